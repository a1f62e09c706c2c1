"""The kernels' matplotlib backend when figures are not drawn (``autograde`` without
``--figures``, and ``check``).

Plotting code runs as it does under Jupyter's inline backend: figures, axes and artists are
created, pyplot calls raise what they raise, ``plt.show()`` and the end of a cell close the
figures, ``plt.isinteractive()`` is true. What is skipped is the drawing: nothing is laid
out with real font metrics, rasterized or encoded as PNG. Where the inline backend would
display a figure, the kernel sends a display output of the MIME type :data:`MIME` instead;
the grader replaces each such output by its own note (``grader/session.py``), whatever the
kernel put in it.

It is the template backend (a canvas whose renderer does nothing) with the inline backend's
figure handling, and layout engines (``fig.tight_layout()``) that leave its figures as they
are. The launcher loads this file by path and registers it as
``gru_figure_notes``, so that ``matplotlib.use("module://gru_figure_notes")`` finds it in a
kernel that cannot read the grader's folder.

Errors that matplotlib raises only while it draws (an invalid mathtext label, found when the
text is measured) are not raised here, except by ``savefig``, which draws as usual.
"""
import matplotlib
from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_template import FigureCanvasTemplate, RendererTemplate
from matplotlib.figure import Figure

NAME = "gru_figure_notes"
BACKEND = f"module://{NAME}"
MIME = "application/vnd.gru.figure+json"


class FigureCanvas(FigureCanvasTemplate):
    """Draws nothing; a layout engine (``tight_layout``) gets the template's renderer,
    whose text has no size."""

    def draw(self):
        pass

    def get_renderer(self):
        return RendererTemplate(self.figure.dpi)


# fig.show() does nothing, as with the inline backend on a machine without a display
FigureManager = FigureCanvas.manager_class = FigureManagerBase


def _display(figure):
    from IPython.display import display

    display(figure)


def figure_bundle(figure, include=None, exclude=None):
    """What a figure shows as (``display(fig)``, a cell ending in ``fig``): the note's MIME
    type, with the figure's text form beside it. An empty figure shows as text only, as the
    inline backend shows it."""
    if not figure.axes and not figure.lines:
        return None
    return {MIME: {}}


def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
    return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))


def new_figure_manager_given_figure(num, figure):
    """As the inline backend: a figure created while interactive is shown at the end of
    the cell."""
    manager = FigureManager(FigureCanvas(figure), num)
    if matplotlib.is_interactive():
        show._draw_called = True
    return manager


def show(close=True, block=None):
    """``plt.show()``: every open figure where the inline backend would draw it, then close
    them all (the inline backend's default)."""
    try:
        for manager in Gcf.get_all_fig_managers():
            _display(manager.canvas.figure)
    finally:
        if close and Gcf.get_all_fig_managers():
            matplotlib.pyplot.close("all")


show._draw_called = False


def flush_figures():
    """After each cell (``post_execute``), as the inline backend's hook: the figures still
    open are shown and closed."""
    if not show._draw_called:
        return
    try:
        show(True)
    finally:
        show._draw_called = False


def _unless_ours(execute):
    """A layout engine that lays out a figure only when it is drawn for real (``savefig``
    switches to a drawing canvas first): ``fig.tight_layout()`` measures every tick label,
    a costly layout nobody sees (benchmarks/README.md has the timings)."""
    def layout(self, fig):
        if isinstance(fig.canvas, FigureCanvas):
            return None
        return execute(self, fig)
    return layout


def install(shell):
    """Make this the kernel's backend, as ``--IPKernelApp.matplotlib=inline`` makes the
    inline one: interactive, figures shown after each cell, ``display(fig)`` a note."""
    import matplotlib.pyplot as plt

    matplotlib.interactive(True)
    matplotlib.rcParams["backend"] = BACKEND
    plt.switch_backend(BACKEND)
    shell.events.register("post_execute", flush_figures)
    from matplotlib import layout_engine

    for engine in (layout_engine.TightLayoutEngine, layout_engine.ConstrainedLayoutEngine):
        engine.execute = _unless_ours(engine.execute)
    formatters = shell.display_formatter
    for formatter in formatters.formatters.values():
        formatter.pop(Figure, None)
    formatters.mimebundle_formatter.for_type(Figure, figure_bundle)
