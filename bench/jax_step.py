"""The native reference for bench/run.mjs: the same training step in JAX/XLA on CPU.

784-256-256-10: Dense -> BatchNorm (batch statistics, eps 1e-5, running
stats with momentum 0.1) -> ReLU, twice, then Dense -> softmax cross-entropy;
Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8); batch 128. The whole step
(forward, backward, Adam) is one jitted function with donated buffers.
Prints one JSON line: {"stepMs", "epochMs", "jax", "devices"}. Uses only jax
and jax.numpy (no optax/flax). Data: uniform [0, 1) images and labels 0..9,
10,000 rows (the timing does not depend on the values).

Run by bench/run.mjs when `python3 -c "import jax"` works; otherwise the
bench says jax is absent.
"""
import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp


def init(key):
    sizes = [(784, 256), (256, 256), (256, 10)]
    params = []
    for i, (fan_in, fan_out) in enumerate(sizes):
        key, sub = jax.random.split(key)
        w = jax.random.normal(sub, (fan_in, fan_out), jnp.float32) * jnp.sqrt(2.0 / fan_in)
        p = {"w": w, "b": jnp.zeros((fan_out,), jnp.float32)}
        if i < 2:
            p["gamma"] = jnp.ones((fan_out,), jnp.float32)
            p["beta"] = jnp.zeros((fan_out,), jnp.float32)
        params.append(p)
    stats = [{"mean": jnp.zeros((256,), jnp.float32), "var": jnp.ones((256,), jnp.float32)} for _ in range(2)]
    return params, stats


def loss_fn(params, stats, x, y):
    h = x
    new_stats = []
    for i, p in enumerate(params):
        h = h @ p["w"] + p["b"]
        if i < 2:
            mean = h.mean(axis=0)
            var = h.var(axis=0)
            h = (h - mean) * jax.lax.rsqrt(var + 1e-5) * p["gamma"] + p["beta"]
            h = jax.nn.relu(h)
            n = x.shape[0]
            s = stats[i]
            new_stats.append({"mean": 0.9 * s["mean"] + 0.1 * mean, "var": 0.9 * s["var"] + 0.1 * var * (n / (n - 1))})
    logp = jax.nn.log_softmax(h)
    loss = -jnp.take_along_axis(logp, y[:, None], axis=1).mean()
    return loss, new_stats


def make_step(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    def step(params, stats, m, v, t, x, y):
        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
        c1 = 1 - b1 ** t
        c2 = 1 - b2 ** t
        params = jax.tree_util.tree_map(lambda p, m_, v_: p - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), params, m, v)
        return params, new_stats, m, v, t, loss

    return step


def make_epoch_step(step, x_all, y_all):
    """The step on the rows `idx` of the data set, the gather inside the jitted function (one dispatch a step)."""
    @jax.jit
    def step_at(params, stats, m, v, t, idx):
        return step(params, stats, m, v, t, x_all[idx], y_all[idx])

    return step_at


def main():
    rows, batch = 10000, 128
    key = jax.random.PRNGKey(1)
    kx, ky, kp = jax.random.split(key, 3)
    x_all = jax.random.uniform(kx, (rows, 784), jnp.float32)
    y_all = jax.random.randint(ky, (rows,), 0, 10)
    params, stats = init(kp)
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    t = jnp.float32(0)
    raw = make_step()
    step = jax.jit(raw)
    xb, yb = x_all[:batch], y_all[:batch]
    for _ in range(20):  # compile and warm up
        params, stats, m, v, t, loss = step(params, stats, m, v, t, xb, yb)
    loss.block_until_ready()
    samples = []
    for _ in range(7):
        n = 50
        t0 = time.perf_counter()
        for _ in range(n):
            params, stats, m, v, t, loss = step(params, stats, m, v, t, xb, yb)
        loss.block_until_ready()
        samples.append((time.perf_counter() - t0) / n * 1000)
    # one epoch: shuffled batches gathered from the 10,000 rows, as normcore's fit does
    # (the gather is inside the jitted step; the batches' indices are made before the clock starts)
    step_at = make_epoch_step(raw, x_all, y_all)
    perm = jax.random.permutation(jax.random.PRNGKey(2), rows)
    batches = [perm[s:s + batch] for s in range(0, rows - batch + 1, batch)]
    params, stats, m, v, t, loss = step_at(params, stats, m, v, t, batches[0])  # compile
    loss.block_until_ready()
    epochs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for idx in batches:
            params, stats, m, v, t, loss = step_at(params, stats, m, v, t, idx)
        loss.block_until_ready()
        epochs.append((time.perf_counter() - t0) * 1000)
    epoch_ms = statistics.median(epochs)
    print(json.dumps({
        "stepMs": statistics.median(samples),
        "epochMs": epoch_ms,
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
    }))


if __name__ == "__main__":
    sys.exit(main())
