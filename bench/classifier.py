"""Small classifiers in numpy for the adversary bench: can features tell two classes apart?

An adversarial worker records what it sees of each job it leases; the bench asks
whether that predicts "validation or ordinary". Two learners, both trained on one half
of the jobs and scored on the other half: the best decision stump (one feature, one
threshold) and an L2-regularised logistic regression over every feature. Accuracy is
judged against chance (always guessing the more common class) with a Wilson 95 %
interval, so "no better than chance" means the interval reaches down to the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]
Labels = NDArray[np.bool_]

Z95 = 1.959963984540054


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The Wilson 95 % interval of a binomial proportion."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    scale = 1 + Z95**2 / trials
    centre = (p + Z95**2 / (2 * trials)) / scale
    half = Z95 * math.sqrt(p * (1 - p) / trials + Z95**2 / (4 * trials**2)) / scale
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Stump:
    """Predict ``positive`` when ``x[feature] > threshold``, else the other class."""

    feature: int
    threshold: float
    positive: bool

    def predict(self, x: Matrix) -> Labels:
        above = x[:, self.feature] > self.threshold
        return above if self.positive else ~above


def fit_stump(x: Matrix, y: Labels, feature: int, cuts: int = 32) -> tuple[Stump, float]:
    """The best threshold on one feature, and its training accuracy."""
    values = x[:, feature]
    thresholds = np.unique(np.quantile(values, np.linspace(0, 1, cuts + 1)))
    best, best_acc = Stump(feature, -math.inf, True), -1.0
    for threshold in np.concatenate(([-math.inf], thresholds)):
        above = values > threshold
        acc = float(np.mean(above == y))
        for positive, score in ((True, acc), (False, 1 - acc)):
            if score > best_acc:
                best, best_acc = Stump(feature, float(threshold), positive), score
    return best, best_acc


@dataclass(frozen=True)
class Logistic:
    mean: Matrix
    scale: Matrix
    weights: Matrix
    bias: float

    def predict(self, x: Matrix) -> Labels:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return np.asarray(z > 0)


def fit_logistic(x: Matrix, y: Labels, steps: int = 2000, l2: float = 1e-3) -> Logistic:
    """Gradient descent on the mean log loss of standardised features."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    target = y.astype(np.float64)
    weights = np.zeros(x.shape[1])
    bias = 0.0
    rate = 0.5
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ weights + bias, -30, 30)))
        error = p - target
        weights -= rate * (z.T @ error / len(y) + l2 * weights)
        bias -= rate * float(error.mean())
    return Logistic(mean, scale, weights, bias)


@dataclass(frozen=True)
class Score:
    name: str
    train: float
    test: float
    correct: int
    trials: int

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, self.trials)


@dataclass(frozen=True)
class Evaluation:
    """Every learner's score on the held-out half, and chance on it."""

    stumps: list[Score]
    """One per feature."""
    best_stump: Score
    """The stump chosen on the training half (its feature named), scored on the test half."""
    logistic: Score
    chance: float
    trials: int

    @property
    def accuracy(self) -> float:
        """The better held-out accuracy of the two learners (the defender's worst case)."""
        return max(self.best_stump.test, self.logistic.test)

    @property
    def interval(self) -> tuple[float, float]:
        best = self.best_stump if self.best_stump.test >= self.logistic.test else self.logistic
        return best.interval

    @property
    def at_chance(self) -> bool:
        """Whether the better learner's interval reaches down to chance."""
        return self.interval[0] <= self.chance


def evaluate(x: Matrix, y: Labels, names: list[str], seed: int = 0) -> Evaluation:
    """Train on a random half, score on the other half."""
    order = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    train, test = order[:half], order[half:]
    stumps, fitted = [], []
    for feature, name in enumerate(names):
        stump, train_acc = fit_stump(x[train], y[train], feature)
        right = int(np.sum(stump.predict(x[test]) == y[test]))
        stumps.append(Score(name, train_acc, right / len(test), right, len(test)))
        fitted.append((train_acc, feature))
    _, chosen = max(fitted)
    model = fit_logistic(x[train], y[train])
    logistic_train = float(np.mean(model.predict(x[train]) == y[train]))
    right = int(np.sum(model.predict(x[test]) == y[test]))
    logistic = Score("logistic (all features)", logistic_train, right / len(test), right, len(test))
    share = float(np.mean(y[test]))
    return Evaluation(
        stumps=stumps,
        best_stump=stumps[chosen],
        logistic=logistic,
        chance=max(share, 1 - share),
        trials=len(test),
    )
