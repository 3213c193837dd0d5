"""DragBench's file format, kept under its former name: it lives in ``dragnb.samples``, which the picker,
the widget and the benchmark runner share."""
from ..samples import SAMPLES, Sample, read_meta, read_sample, write_sample

__all__ = ["SAMPLES", "Sample", "read_meta", "read_sample", "write_sample"]
