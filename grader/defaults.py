"""The limits one notebook runs under, the same for ``autograde`` and for the learners'
``check``: a notebook that passes the check does not then run out of time or memory in
grading (on a comparable machine). ``session.Limits`` and the command line read them here.
"""
TIMEOUT_S = 60.0      # seconds for the whole notebook, from the moment its kernel is ready
MEMORY_MB = 2048      # the kernel's data segment (RLIMIT_DATA)
