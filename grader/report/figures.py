"""The class report's figures (matplotlib, Agg): each draws plain data from ``analysis``
into ``folder/NAME.png`` and returns the path, or None when there is nothing to draw.

``pyplot()`` is matplotlib with the report's style; the similarity pages draw with it too.
"""
import statistics

COLORS = {"passed": "#3a923a", "failed": "#d0473e", "not written": "#b8b8b8",
          "not run": "#e4e4e4"}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, with the report's style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.titlesize": 10, "axes.titleweight": "bold"})
    return plt


def _save(fig, folder, name):
    """Write ``folder/NAME.png`` and close the figure."""
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def fig_scores(rows, folder):
    """Histograms of the score (% of max) of the submitted notebooks, one per assignment."""
    plt = pyplot()
    aids = sorted({r["assignment"] for r in rows})
    if not aids:
        return None
    ncol = min(3, len(aids))
    nrow = -(-len(aids) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.6 * nrow), squeeze=False)
    bins = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001]
    for ax, aid in zip(axes.flat, aids):
        group = [r for r in rows if r["assignment"] == aid]
        pct = [100 * r["score"] / r["max_score"] for r in group
               if r["status"] != "missing" and r["max_score"]]
        missing = len(group) - len(pct)
        ax.hist(pct, bins=bins, color="#4a78b5", edgecolor="white")
        top = max(ax.get_ylim()[1], 1) * 1.18
        ax.set_ylim(0, top)
        if pct:
            mean = statistics.mean(pct)
            ax.axvline(mean, color="#222", lw=1, ls="--")
            ax.text(mean + (-1.5 if mean > 60 else 1.5), top * 0.97, f"mean {mean:.0f}%",
                    va="top", ha="right" if mean > 60 else "left", fontsize=8)
        ax.set_title(f"{aid}\n{len(pct)} submitted, {missing} missing", fontsize=9)
        ax.set_xlim(0, 100)
        ax.set_xlabel("score (% of max)")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(aids):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, folder, "scores")


def fig_exercises(ex_rows, folder):
    """One stacked bar per test cell: passed, failed, not written, not run."""
    plt = pyplot()
    aids = sorted({r["assignment"] for r in ex_rows})
    if not aids:
        return None
    heights = [max(1.0, 0.24 * sum(1 for r in ex_rows if r["assignment"] == a) + 0.6) for a in aids]
    fig, axes = plt.subplots(len(aids), 1, figsize=(8, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    parts = [("passed", "passed"), ("failed", "failed"), ("not_written", "not written"),
             ("not_run", "not run")]
    for ax, aid in zip(axes[:, 0], aids):
        group = [r for r in ex_rows if r["assignment"] == aid][::-1]
        labels = [f"{r['exercise']} · {r['kind']}" if r["kind"] else r["exercise"] for r in group]
        left = [0.0] * len(group)
        for field, name in parts:
            share = [100 * r[field] / r["ran"] if r["ran"] else 0 for r in group]
            ax.barh(labels, share, left=left, color=COLORS[name], label=name, height=0.72)
            left = [a + b for a, b in zip(left, share)]
        for y, r in enumerate(group):
            ax.text(101, y, f"{100 * r['success_rate']:.0f}%  ({r['passed']}/{r['ran']})",
                    va="center", fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_title(aid, loc="left")
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel("% of the submitted, readable notebooks" if ax is axes[-1, 0] else "")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=4, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    # the legend's row is 0.45 inch whatever the figure's height (one assignment: a short one)
    fig.tight_layout(rect=(0, 0, 0.9, 1 - 0.45 / fig.get_figheight()))
    return _save(fig, folder, "exercises")


def fig_quiz(aid, question_rows, option_rows, folder):
    """One bar chart per question of an assignment: the share of learners choosing each
    option (green: in the key, red: a distractor)."""
    plt = pyplot()
    qs = [q for q in question_rows if q["assignment"] == aid]
    if not qs:
        return None
    ncol = min(3, len(qs))
    nrow = -(-len(qs) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.1 * nrow), squeeze=False)
    for ax, q in zip(axes.flat, qs):
        opts = [o for o in option_rows if o["assignment"] == aid and o["question"] == q["question"]]
        # learners' own "options" (a string, a lowercase letter...): the three most chosen
        odd = sorted((o for o in opts if o["text"] == "(not an option)"), key=lambda o: -o["chosen"])
        opts = [o for o in opts if o["text"] != "(not an option)"] + odd[:3]
        colors = ["#3a923a" if o["in_key"] == "yes" else "#d0473e" if o["in_key"] == "no"
                  else "#4a78b5" for o in opts]
        labels = [(o["option"] if o["text"] != "(not an option)" else repr(o["option"][:12]))
                  .replace("$", r"\$") for o in opts]   # learner text: no mathtext
        ax.bar(labels, [100 * o["share"] for o in opts], color=colors)
        for i, o in enumerate(opts):
            ax.text(i, 100 * o["share"] + 2, str(o["chosen"]), ha="center", fontsize=7)
        ax.set_ylim(0, 112)
        right = f"{q['fully_right']}/{q['answered']} fully right" if q["answered"] else "no answers"
        ax.set_title(f"{q['question'].replace('_answer', '').upper()} · {right}", fontsize=9)
        ax.set_ylabel("% chose it", fontsize=8)
    for ax in list(axes.flat)[len(qs):]:
        ax.axis("off")
    fig.suptitle(f"{aid}: share of learners choosing each option "
                 "(green: in the key, red: distractor; number: learners)", fontsize=9)
    fig.tight_layout()
    return _save(fig, folder, f"quiz_{aid}")


# --------------------------------------------------------------------------- output
