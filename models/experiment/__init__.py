"""The holdout experiment: uplift of the adaptive policy over held-out SKUs, live and in the simulator.

``uplift`` is the estimator, ``tally`` the running per-campaign sums that the stream and the in-process
evaluation both keep, ``evaluation`` the simulator's truth (common random numbers) and the coverage of
the estimator's confidence intervals over seeds.
"""
