"""Independent reference for the joint model (penalised Bradley–Terry fit).

Written from the model's definition alone (numpy + scipy.optimize); it shares
no code or algorithm with the Rust implementation, which orients each pair by
its preference and runs its own Newton iterations. Here the model is the
textbook logistic regression without intercept on unoriented differences:

    y = 1 if response a was preferred, 0 if b was;  pairs with a tie are dropped
    d_f = v_f(a) - v_f(b)   (|d_f| < 1e-9 counts as 0; a pair with any missing d is dropped)
    covariate "sign" (the default): z_f = sign(d_f); a factor whose sign is 0 in
        every pair gets no coefficient
    covariate "scaled": z_f = d_f / s_f, s_f = sqrt(mean(d_f^2)) over the pairs used;
        factors with s_f = 0 get no coefficient
    maximise  sum_i [ y_i * eta_i - log(1 + exp(eta_i)) ] - penalty/2 * |beta|^2,  eta = Z beta

solved with scipy's trust-region method on the exact gradient and Hessian.
Standard errors: cluster-robust (sandwich), clustered by input:
    V = G/(G-1) * H^-1 (sum_c u_c u_c') H^-1,  H = Z' diag(pi (1 - pi)) Z + penalty I,
    u_c = sum over input c's pairs of (y - pi) z,  G = inputs with a pair used.
Pairs of fitted factors whose covariates correlate (sum z_f z_g / sqrt(sum z_f^2 sum z_g^2))
by |r| >= 0.7 get a Wald test of both coefficients 0: W = b' V_sub^-1 b, p = chi2(2).sf(W);
when V_sub is singular (det <= 1e-10 * V_aa * V_bb) that of b_a + sign(r) b_b, chi2(1).

Input (JSON file given as the only argument):
    {"datasets": [{"name": ..., "penalty": ..., "n_factors": k,
                   "preferences": [+1|-1|0, ...], "clusters": [int, ...],
                   "covariate": "sign" | "scaled",
                   "differences": [[d_1, ..., d_k] (null = missing), ...]}, ...]}
Output (stdout): {"name": {"n_used", "n_dropped_tie", "n_dropped_missing", "scale",
                           "coefficients" (null = excluded), "se", "log_likelihood",
                           "correlations" (k x k; null = excluded),
                           "pair_tests": [[f, g, r, W, df, p], ...]}, ...}

    python3 -m pip install scipy numpy && python3 tests/reference/joint_reference.py IN.json
"""
import json
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import chi2

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
    clusters = np.asarray(ds["clusters"], dtype=int)[used]
    d[np.abs(d) < TIE_TOLERANCE] = 0.0
    n = len(y)

    rms = np.sqrt((d**2).mean(axis=0)) if n else np.zeros(k)
    if ds.get("covariate", "sign") == "sign":
        sg = np.sign(d)
        keep = np.array([n > 0 and np.any(sg[:, f] != 0) for f in range(k)], dtype=bool)
        scale = np.where(keep, 1.0, 0.0)
        z = sg[:, keep]
    else:
        keep = rms > 0
        scale = rms
        z = d[:, keep] / rms[keep]
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
        "pair_tests": [],
    }
    idx = np.flatnonzero(keep)
    if n:
        # Uncentred correlation of the covariates.
        c = z.T @ z
        dg = np.sqrt(np.diag(c))
        c = c / np.outer(dg, dg) if m else c
        for a, fa in enumerate(idx):
            for b, fb in enumerate(idx):
                out["correlations"][fa][fb] = float(c[a, b])
    if n == 0 or m == 0:
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
    hinv = np.linalg.inv(hessian(beta))
    resid = (y - expit(eta))[:, None] * z
    groups = np.unique(clusters)
    meat = np.zeros((m, m))
    for g in groups:
        u = resid[clusters == g].sum(axis=0)
        meat += np.outer(u, u)
    G = len(groups)
    cov = G / (G - 1) * hinv @ meat @ hinv if G > 1 else np.full((m, m), np.nan)
    se = np.sqrt(np.diag(cov))
    for a in range(m):
        for b in range(a + 1, m):
            r = c[a, b]
            if abs(r) >= 0.7 and G > 1:
                sub = cov[np.ix_([a, b], [a, b])]
                bb = beta[[a, b]]
                if np.linalg.det(sub) > 1e-10 * sub[0, 0] * sub[1, 1]:
                    w, df = float(bb @ np.linalg.solve(sub, bb)), 2
                else:
                    # Coinciding covariates: the combined effect b_a + sign(r) b_b.
                    v = np.array([1.0, np.sign(r)])
                    w, df = float((v @ bb) ** 2 / (v @ sub @ v)), 1
                out["pair_tests"].append(
                    [int(idx[a]), int(idx[b]), float(r), w, df, float(chi2.sf(w, df))]
                )
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
