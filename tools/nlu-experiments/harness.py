"""A scikit-learn copy of cellflow's classifier features (src/classifier/
features.rs and src/text.rs) and the two tuning protocols behind
docs/NLU.md, on BANKING77's training split only:

- "full": 5-fold stratified cross-validation (seed 0);
- "few": 10 examples per intent from each of 5 seeded samples, scored on
  the rest of the training split.

`run(fit_predict, cfg)` featurizes each split with `cfg` (see DEFAULT) and
returns the mean accuracy of each protocol; `log` appends a row to
RESULTS.md.
"""
import os
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
import csv, unicodedata, time, functools
import numpy as np, scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize as l2norm

HERE = os.path.dirname(os.path.abspath(__file__))
# BANKING77's training split only: nothing here reads the test split.
TRAIN = os.environ.get(
    "CELLFLOW_BANKING77_TRAIN",
    os.path.join(HERE, "..", "..", "..", "shared", "data", "banking77", "train.csv"),
)
rows = list(csv.DictReader(open(TRAIN, encoding="utf-8")))
TEXTS = [r["text"] for r in rows]
CATS = sorted(set(r["category"] for r in rows))
Y = np.array([CATS.index(r["category"]) for r in rows])
N = len(Y)


def normalize(t):
    out = []
    space = True
    for c in unicodedata.normalize("NFD", t):
        if unicodedata.combining(c):
            continue
        if c.isalnum():
            out.append(c.lower()); space = False
        elif not space:
            out.append(" "); space = True
    return "".join(out).strip()


NORM = [normalize(t) for t in TEXTS]

_stemmer = None
def stem(w):
    global _stemmer
    if _stemmer is None:
        from nltk.stem.snowball import EnglishStemmer
        _stemmer = EnglishStemmer()
    return _stemmer.stem(w)


def word_feats(s, nmax=2, stemming=False):
    ws = s.split()
    if stemming:
        ws = [stem(w) for w in ws]
    f = []
    for n in range(1, nmax + 1):
        for i in range(len(ws) - n + 1):
            f.append(" ".join(ws[i:i + n]))
    return f


def char_feats(s, lo=2, hi=5, wb=True):
    f = []
    if wb:
        for w in s.split():
            e = " " + w + " "
            cnt = len(e)
            if cnt > 34:
                continue
            for n in range(lo, hi + 1):
                if n > cnt:
                    break
                for a in range(cnt - n + 1):
                    f.append(e[a:a + n])
    else:
        e = " " + s + " "
        for n in range(lo, hi + 1):
            for a in range(len(e) - n + 1):
                f.append(e[a:a + n])
    return f


def to_matrix(featlists, binary=True):
    vocab = {}
    indptr = [0]; ind = []; data = []
    for fl in featlists:
        d = {}
        for x in fl:
            j = vocab.setdefault(x, len(vocab))
            d[j] = d.get(j, 0) + 1
        ind.extend(d.keys()); data.extend(d.values())
        indptr.append(len(ind))
    M = sp.csr_matrix((np.array(data, dtype=np.float64), ind, indptr), shape=(len(featlists), len(vocab)))
    M.sort_indices()
    return M


@functools.lru_cache(maxsize=None)
def word_block(nmax=2, stemming=False):
    return to_matrix([word_feats(s, nmax, stemming) for s in NORM])


@functools.lru_cache(maxsize=None)
def char_block(lo=2, hi=5, wb=True):
    return to_matrix([char_feats(s, lo, hi, wb) for s in NORM])


def weight_block(C, tr, te, tf="binary", idf=True):
    """C: global count matrix. returns (Xtr, Xte) restricted to train vocab, idf-weighted, L2 per block"""
    Ctr = C[tr]
    df = np.asarray((Ctr > 0).sum(0)).ravel()
    keep = np.flatnonzero(df > 0)
    Ctr = Ctr[:, keep]; Cte = C[te][:, keep]
    ntr = len(tr)
    w = np.log((1 + ntr) / (1 + df[keep])) + 1 if idf else np.ones(len(keep))
    out = []
    for M in (Ctr, Cte):
        M = M.copy()
        if tf == "binary":
            M.data[:] = 1.0
        elif tf == "sublinear":
            M.data = 1 + np.log(M.data)
        M = M @ sp.diags(w)
        out.append(M.tocsr())
    return out


DEFAULT = dict(nmax=2, stem=False, clo=2, chi=5, wb=True, tf="binary", wchar=1.0, wword=1.0,
               joint=False, idf=True)


def featurize(tr, te, cfg=None, **kw):
    c = dict(DEFAULT); c.update(cfg or {}); c.update(kw)
    blocks = []
    if c["wword"] > 0:
        blocks.append((word_block(c["nmax"], c["stem"]), c["wword"]))
    if c["wchar"] > 0:
        blocks.append((char_block(c["clo"], c["chi"], c["wb"]), c["wchar"]))
    for extra in c.get("extra", []):  # (matrix, weight)
        blocks.append(extra)
    trs, tes = [], []
    for M, wt in blocks:
        a, b = weight_block(M, tr, te, c["tf"], c["idf"])
        if not c["joint"]:
            a = l2norm(a); b = l2norm(b)
        trs.append(a * wt); tes.append(b * wt)
    Xtr = sp.hstack(trs).tocsr(); Xte = sp.hstack(tes).tocsr()
    if c["joint"]:
        Xtr = l2norm(Xtr) * np.sqrt(2); Xte = l2norm(Xte) * np.sqrt(2)
    return Xtr, Xte


def folds_full(seed=0):
    skf = StratifiedKFold(5, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(N), Y))


def folds_few(k=10, seeds=(0, 1, 2, 3, 4)):
    out = []
    for s in seeds:
        rng = np.random.RandomState(1000 + s)
        tr = []
        for c in range(len(CATS)):
            idx = np.flatnonzero(Y == c)
            tr.extend(rng.choice(idx, k, replace=False))
        tr = np.sort(np.array(tr))
        te = np.setdiff1d(np.arange(N), tr)
        out.append((tr, te))
    return out


FULL = folds_full()
FEW = folds_few()


def run(fit_predict, cfg=None, which=("full", "few"), **kw):
    """fit_predict(Xtr, ytr, Xte, tr_idx) -> score matrix or labels"""
    res = {}
    for name in which:
        accs = []; t = 0.0
        for tr, te in (FULL if name == "full" else FEW):
            Xtr, Xte = featurize(tr, te, cfg, **kw)
            t0 = time.time()
            p = fit_predict(Xtr, Y[tr], Xte, tr)
            t += time.time() - t0
            if p.ndim == 2:
                p = p.argmax(1)
            accs.append((p == Y[te]).mean())
        res[name] = (100 * np.mean(accs), 100 * np.std(accs), t / len(accs))
    return res


def fmt(res):
    s = []
    for k, (m, sd, t) in res.items():
        s.append(f"{k}: {m:.2f} ± {sd:.2f} ({t:.1f}s)")
    return " | ".join(s)


def log(name, res, path=os.path.join(HERE, "RESULTS.md")):
    a = res.get("full"); b = res.get("few")
    fa = f"{a[0]:.2f} ± {a[1]:.2f}" if a else "-"
    fb = f"{b[0]:.2f} ± {b[1]:.2f}" if b else "-"
    t = f"{a[2]:.1f}s" if a else (f"{b[2]:.2f}s(few)" if b else "-")
    with open(path, "a") as f:
        f.write(f"| {name} | {fa} | {fb} | {t} |\n")
    print(name, fmt(res), flush=True)
