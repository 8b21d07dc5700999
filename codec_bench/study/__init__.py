"""The stages chained for one dataset (``pipeline``), the checks made before any model (``inputs``), studies over
datasets x codecs x models x recipes x seeds: the study file and its cells (``plan``), how cells run (``engines``)
and the study run itself (``benchmark``), the demo (``demo``) and predictions on new audio (``predict``)."""
