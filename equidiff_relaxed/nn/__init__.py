"""Networks: 1D temporal U-Net, field-to-irrep maps, relaxed / residual group-linear layers, encoders, denoisers."""
