"""Independent reference for the joint model (penalised Bradley–Terry fit).

Written from the model's definition alone (numpy + scipy.optimize); it shares
no code or algorithm with the Rust implementation, which orients each pair by
its preference and runs its own Newton iterations. Here the model is the
textbook logistic regression without intercept on unoriented differences:

    y = 1 if response a was preferred, 0 if b was;  pairs with a tie are dropped
    d_f = v_f(a) - v_f(b)   (|d_f| < 1e-9 counts as 0; a pair with any missing d is dropped)
    s_f = sqrt(mean(d_f^2)) over the pairs used;  factors with s_f = 0 get no coefficient
    z_f = d_f / s_f
    maximise  sum_i [ y_i * eta_i - log(1 + exp(eta_i)) ] - penalty/2 * |beta|^2,  eta = Z beta

solved with scipy's trust-region method on the exact gradient and Hessian.
Standard errors: sqrt(diag(H^-1)) with H = Z' diag(pi (1 - pi)) Z + penalty I.

Input (JSON file given as the only argument):
    {"datasets": [{"name": ..., "penalty": ..., "n_factors": k,
                   "preferences": [+1|-1|0, ...],
                   "differences": [[d_1, ..., d_k] (null = missing), ...]}, ...]}
Output (stdout): {"name": {"n_used", "n_dropped_tie", "n_dropped_missing", "scale",
                           "coefficients" (null = excluded), "se", "log_likelihood",
                           "correlations" (k x k, mean of z_f z_g; null = excluded)}, ...}

    python3 -m pip install scipy numpy && python3 tests/reference/joint_reference.py IN.json
"""
import json
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

TIE_TOLERANCE = 1e-9


def fit(ds):
    k = ds["n_factors"]
    lam = float(ds["penalty"])
    pref = np.asarray(ds["preferences"], dtype=int)
    d = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in ds["differences"]],
        dtype=float,
    ).reshape(len(pref), k)

    tie = pref == 0
    missing = ~tie & ~np.isfinite(d).all(axis=1)
    used = ~tie & ~missing
    d = d[used]
    y = (pref[used] > 0).astype(float)
    d[np.abs(d) < TIE_TOLERANCE] = 0.0
    n = len(y)

    scale = np.sqrt((d**2).mean(axis=0)) if n else np.zeros(k)
    keep = scale > 0
    z = d[:, keep] / scale[keep]
    m = z.shape[1]

    def objective(beta):
        eta = z @ beta
        ll = np.sum(y * eta - np.logaddexp(0.0, eta))
        pi = expit(eta)
        grad = z.T @ (y - pi) - lam * beta
        return -(ll - 0.5 * lam * beta @ beta), -grad

    def hessian(beta):
        pi = expit(z @ beta)
        return (z * (pi * (1 - pi))[:, None]).T @ z + lam * np.eye(m)

    out = {
        "n_used": int(n),
        "n_dropped_tie": int(tie.sum()),
        "n_dropped_missing": int(missing.sum()),
        "scale": scale.tolist(),
        "coefficients": [None] * k,
        "se": [None] * k,
        "log_likelihood": None,
        "correlations": [[None] * k for _ in range(k)],
    }
    idx = np.flatnonzero(keep)
    if n:
        # Uncentred correlation of the standardised differences: mean(z_f z_g).
        c = z.T @ z / n
        for a, fa in enumerate(idx):
            for b, fb in enumerate(idx):
                out["correlations"][fa][fb] = float(c[a, b])
    if n == 0:
        return out
    res = minimize(
        objective,
        np.zeros(m),
        jac=True,
        hess=hessian,
        method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 1000},
    )
    beta = res.x
    # Polish with plain Newton steps on the same gradient and Hessian.
    for _ in range(5):
        _, g = objective(beta)
        beta = beta - np.linalg.solve(hessian(beta), g)
    eta = z @ beta
    se = np.sqrt(np.diag(np.linalg.inv(hessian(beta))))
    for j, f in enumerate(idx):
        out["coefficients"][f] = float(beta[j])
        out["se"][f] = float(se[j])
    out["log_likelihood"] = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return out


def main(path):
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    print(json.dumps({ds["name"]: fit(ds) for ds in doc["datasets"]}))


if __name__ == "__main__":
    main(sys.argv[1])
