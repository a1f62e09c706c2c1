"""What the instructor reads at the end of a run: the grade table and a status summary."""
from collections import Counter


def grade_table(rows, width=28):
    head = f"{'student':<{width}} {'assignment':<16} {'score':>7} {'max':>5}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['student_id'][:width]:<{width}} {r['assignment']:<16} "
                     f"{r['score']:>7g} {r['max_score']:>5g}  {r['status']}")
    return "\n".join(lines)


def summary(rows):
    statuses = Counter(r["status"] for r in rows)
    graded = [r for r in rows if r["status"] == "graded"]
    mean = sum(r["score"] / r["max_score"] for r in graded) / len(graded) if graded else 0.0
    parts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    return f"{len(rows)} rows ({parts}); mean score of graded rows {100 * mean:.0f}%"
