"""Models tried in RESULTS.md, as fit_predict functions for harness.run."""
import warnings

from harness import *  # noqa: F403
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

warnings.filterwarnings("ignore")


def svm(C=0.5, **kw):
    """cellflow's model today: one-vs-rest linear SVMs, squared hinge."""
    def f(Xtr, ytr, Xte, tr):
        return LinearSVC(C=C, **kw).fit(Xtr, ytr).decision_function(Xte)
    return f


def softmax(C=30, **kw):
    """Multinomial logistic regression (L-BFGS)."""
    def f(Xtr, ytr, Xte, tr):
        return LogisticRegression(C=C, max_iter=300, **kw).fit(Xtr, ytr).decision_function(Xte)
    return f


if __name__ == "__main__":
    # The reference, then the best 10-per-intent variant found.
    log("reference: one-vs-rest SVM, C=0.5", run(svm()))
    log("softmax C=30, stemmed words, char block x1.5", run(softmax(30), dict(stem=True, wchar=1.5)))
