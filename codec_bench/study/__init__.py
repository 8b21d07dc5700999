"""The stages chained for one dataset (``pipeline``; a fold's training and evaluation in ``fold``, ``train_stage``
and ``evaluate_stage``; question answering's blind rows in ``blind``; what a run costs, carried by its records, in
``costs``; decoded-audio fidelity in ``fidelity_stage``), the checks made before any model and the command line's
settings settled (``inputs``), studies over datasets x codecs x models x recipes x seeds: the study file and its
cells (``plan``), recipe grids (``grid``), how cells run (``engines``) and the study run itself (``benchmark``), the
demo (``demo``) and predictions on new audio (``predict``)."""
