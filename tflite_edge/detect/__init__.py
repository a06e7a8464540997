"""Object detection through the run's stages: build, train, convert (with the TFLite postprocess
op and a raw variant), evaluate (COCO mAP for Keras and every artifact), report.

The shared stage modules hand over to `detect.stages` when `task: detection`.
"""
