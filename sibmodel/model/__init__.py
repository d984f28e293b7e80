"""The model in numbers: sampling of inputs, referrals, hazards, the pathway kernel, tallies,
the exact cohort model, calibration on it, the baseline map, finance."""
