"""Build a `us_exams` corpus if it is missing and print its summary.

    python -m usjax.data.us_exams --config=1k [--data_dir=~/tensorflow_datasets] [--workers=2]
"""
import collections
import statistics

from absl import app, flags

from usjax import taxonomy
from usjax.data.us_exams.ensure import ensure_built

_CONFIG = flags.DEFINE_string("config", "1k", "builder config: 1k, 10k, 100k, 2k_tail or real")
_DATA_DIR = flags.DEFINE_string("data_dir", "~/tensorflow_datasets", "where TFDS corpora live")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "folder of real exams (config 'real')")
_WORKERS = flags.DEFINE_integer("workers", 1, "processes generating exams during a build")


def summarise(builder) -> str:
    """Counts per split, views, lesions and report length, and the most frequent organs."""
    lines = [f"us_exams/{builder.builder_config.name} in {builder.data_dir}"]
    for split, info in builder.info.splits.items():
        lines.append(f"  {split:<10} {info.num_examples:>7} exams")
    train = builder.as_data_source("train")
    sample = [train[i] for i in range(min(len(train), 500))]
    views = [len(record["doppler"]) for record in sample]
    lesions = [len(record["lesions"]["size_mm"]) for record in sample]
    words = [len(record["report"].split()) for record in sample]
    lines.append(f"  first {len(sample)} train exams: views/exam mean {statistics.mean(views):.1f} "
                 f"(min {min(views)}, max {max(views)}), lesions/exam mean "
                 f"{statistics.mean(lesions):.2f}, report words mean {statistics.mean(words):.0f}")
    organs = collections.Counter(record["organ"] for record in sample)
    top = ", ".join(f"{taxonomy.ORGAN_NAMES[o]} {n}" for o, n in organs.most_common(5)
                    if o >= 0)
    lines.append(f"  most frequent organs: {top}")
    lines.append(f"  example report: {sample[0]['report'].decode()[:300]}...")
    return "\n".join(lines)


def main(argv):
    del argv
    builder = ensure_built(f"us_exams/{_CONFIG.value}", _DATA_DIR.value,
                           manual_dir=_MANUAL_DIR.value, num_workers=_WORKERS.value)
    print(summarise(builder))


if __name__ == "__main__":
    app.run(main)
