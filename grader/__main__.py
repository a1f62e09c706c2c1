from .startup import skip_iri_grammar

skip_iri_grammar()   # first: before anything imports jsonschema (see grader/startup.py)

from .cli import main  # noqa: E402

raise SystemExit(main())
