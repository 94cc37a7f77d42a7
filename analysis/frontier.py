"""Compute-optimal allocation under C = k N D (Chinchilla: k = 6 with D in tokens).

Minimising E + A/N^alpha + B/D^beta on the constraint gives
  N_opt = G (C/k)^a,  D_opt = G^-1 (C/k)^b,  G = (alpha A / (beta B))^(1/(alpha+beta)),
  a = beta/(alpha+beta),  b = alpha/(alpha+beta).
Every function takes the named parameters as floats or as arrays of bootstrap samples.
"""
import numpy as np

CHINCHILLA_FLOPS_PER_PARAM_TOKEN = 6.0


def exponents(params: dict) -> tuple:
  total = params["alpha"] + params["beta"]
  return params["beta"] / total, params["alpha"] / total


def balance(params: dict):
  """G in N_opt = G (C/k)^a."""
  return (params["alpha"] * params["A"] / (params["beta"] * params["B"]))**(
      1.0 / (params["alpha"] + params["beta"]))


def optimal_n(params: dict, compute, k: float = CHINCHILLA_FLOPS_PER_PARAM_TOKEN):
  a, _ = exponents(params)
  return balance(params) * (np.asarray(compute) / k)**a


def optimal_d(params: dict, compute, k: float = CHINCHILLA_FLOPS_PER_PARAM_TOKEN):
  _, b = exponents(params)
  return (np.asarray(compute) / k)**b / balance(params)


def d_per_parameter(params: dict, compute, k: float = CHINCHILLA_FLOPS_PER_PARAM_TOKEN):
  """D_opt / N_opt at compute C (tokens per parameter when D counts tokens)."""
  return optimal_d(params, compute, k) / optimal_n(params, compute, k)


def compute_per_n_d(n, d, c) -> float:
  """k in C = k N D, estimated from the runs (the median of C / (N D)).

  For a sweep D counts exams, so k is the FLOPs per parameter per exam (about 6 x tokens/exam).
  """
  return float(np.median(np.asarray(c, np.float64) / (np.asarray(n, np.float64) *
                                                      np.asarray(d, np.float64))))
