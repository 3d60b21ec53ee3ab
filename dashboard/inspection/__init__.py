"""What is computed from a trained run: every layer's maps for a digit (`forward`, `readings`),
Grad-CAM, the last map's features, ablations and projections (`analysis`, `final_maps`,
`projection`, `ablation`), the channel atlas, test-set evaluation, and the results kept beside a
run (`results`). Arrays in, arrays out.
"""
