"""Technology layer: device models (RRAM Verilog-A, SKY130) and their compile caches."""
