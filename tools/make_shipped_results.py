"""Store the results the pages compute from a run beside every shipped run, for full MNIST.

    python tools/make_shipped_results.py /work/shared/data/mnist.npz [--tsne] [--layers last|all]

For each run in ``model_cache/shipped/`` trained on this data set (its fingerprint), computes
with the app's own code and stores in ``<run>/results/`` (see ``dashboard.store.stored``): the test
predictions (Compare), the PCA projection and ablations of the last map (Inside the 3×3), and
the channel atlas of the last conv layer, or of every conv layer with ``--layers all``
(Channels); with ``--tsne``, the t-SNE projection too. A server using the same data then shows
a shipped run's first Compare, Inside and Channels view without computing any of it. Results
already stored are skipped unless ``--replace``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="the full MNIST .npz (keras.datasets.mnist layout)")
    parser.add_argument("--tsne", action="store_true", help="also store the t-SNE projection (slow)")
    parser.add_argument("--layers", choices=("last", "all"), default="last", help="conv layers to store atlases of")
    parser.add_argument("--replace", action="store_true", help="recompute results already stored")
    args = parser.parse_args()

    from dashboard.inspection import final_maps, results
    from dashboard.inspection.evaluation import confidence_of, predict_labels
    from dashboard.inspection.run_factory import open_run
    from dashboard.mnist.data import load_mnist
    from dashboard.store.cache import SHIPPED_ROOT, ModelCache
    from dashboard.store.stored import result_name

    data = load_mnist(args.data)
    cache = ModelCache(SHIPPED_ROOT.parent / ".unused", shipped_root=SHIPPED_ROOT)
    fp = data.fingerprint
    for record in cache.runs():
        if not record.shipped or record.data_fingerprint != fp or record.spec is None:
            continue
        model = open_run(record, cache)  # the run's model, as the pages compute it
        started = time.perf_counter()

        def keep(name: str, compute) -> None:
            if args.replace or cache.read_result(record.key, name) is None:
                if not cache.write_result(record.key, name, compute(), shipped=True):
                    raise SystemExit(f"could not write {name} beside {record.key}")

        def predictions() -> bytes:
            predicted, probs = predict_labels(model, data.x_test)
            return results.predictions_bytes(predicted, confidence_of(predicted, probs), data.y_test)

        keep(result_name("predictions", fp), predictions)
        feats = final_maps.sample_features(model, data.x_test, data.y_test)
        for method in ("pca", "tsne") if args.tsne else ("pca",):
            keep(result_name(f"projection_{method}", fp),
                 lambda: results.projection_bytes(final_maps.project(feats, method)))
        keep(result_name("ablation", fp),
             lambda: results.ablation_bytes(model.ablate(feats.maps, feats.labels)))
        convs = model.channel_layers
        for geo in convs if args.layers == "all" else convs[-1:]:
            keep(result_name("atlas", fp, geo.name), lambda: results.atlas_bytes(
                model.atlas(geo.name, data.x_test[: atlas_images()])))
        size = sum(p.stat().st_size for p in (SHIPPED_ROOT / record.key / "results").iterdir())
        print(f"{record.key}  {record.spec.describe()[:40]:<40} {time.perf_counter() - started:6.1f} s  "
              f"{size / 1024:6.0f} KB", flush=True)
    return 0


def atlas_images() -> int:
    """How many test images the Channels page searches (its own constant)."""
    from dashboard.ui.atlas_cache import MAX_IMAGES

    return MAX_IMAGES


if __name__ == "__main__":
    raise SystemExit(main())
