"""Gallery: every generator's counterfactuals on moons and circles.

Writes ``docs/images/generators_moons.png`` and ``docs/images/generators_circles.png``:
decision regions of a skorch MLP, the data, and an arrow from each factual to its
counterfactual, one panel per generator.

    python docs/gallery/plot_generators_2d.py
"""

from pathlib import Path

from skcf.demo import _plot

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "images"
    for dataset in ("moons", "circles"):
        print(
            _plot(out, "cpu", 0, dataset=dataset, filename=f"generators_{dataset}.png")
        )
