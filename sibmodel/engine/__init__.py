"""Running the model: one chunk of draws as named stages, the run (simulate), its execution in process,
on local processes or on Dask."""
