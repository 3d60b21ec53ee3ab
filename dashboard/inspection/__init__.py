"""What is computed from a trained or imported run, through its model: the `RunModel` protocol
(`run_model`), built by one factory (`run_factory`) on the numpy engine (`numpy_run` over
`forward` and `numpy_layers`) or, for what numpy does not cover, Keras (`keras_run`, `analysis`);
a digit's reading (`readings`), Grad-CAM (`gradcam`), the last map's features, ablations and
projections (`final_maps`, `ablation`, `projection`), the channel atlas, test-set evaluation, and
the results kept beside a run (`results`). Arrays in, arrays out.
"""
