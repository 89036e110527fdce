"""Uniform-noise discrete diffusion: schedule, noise process, denoisers, samplers, memories."""
