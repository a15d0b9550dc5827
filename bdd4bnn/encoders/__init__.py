"""Encoders: turn the model's semantics into constraints, then into BDDs (or CNF)."""

from .constraints import Card, class_constraints, neuron_constraint

__all__ = ["Card", "neuron_constraint", "class_constraints"]
