"""Would a student that reads word order close the text targets? A PyTorch probe, run before
building one in Rust.

The student distillery ships reads a bag of hashed n-grams plus the mean of the teacher's
word vectors. This probe trains, on the same files, the word-order student the literature
distils transformers into (a 1-D convolution over word vectors with max-pooling over time,
Kim 2014; Tang et al. 2019 used a BiLSTM): the word vectors of `words.vec` (the teacher's,
written by tools/word_vectors.py) feed convolutions of widths 1, 2 and 3 (64 filters each,
ReLU, max over positions), joined with the mean vector, then a [16] hidden layer. It
trains on the soft labels (T = 2, soft weight 0.7, the text student's search choice) or
on the hard labels alone, with the word vectors frozen or tuned, and keeps the epoch with
the best validation score (fidelity for soft labels, accuracy for hard), as distillery does.

    python bench/text/word_order_probe.py DIR [--labels soft|hard] [--tune-words]
        [--widths 1,2,3] [--seeds 0,1,2] [--epochs 12]

DIR holds train.csv / test.csv with text, label and teacher_p_<class> columns and
words.vec: what `KEEP=dir bench/text/run.sh` leaves in dir/<set>. `--widths ""` drops the
convolutions (the mean vector alone: a fastText-like student). A text's first 400 words
are read. Needs torch (tools/requirements-finetune.txt). Prints test accuracy and fidelity
per seed and their mean, after how often the training rows' soft labels agree with their
labels.
"""

import argparse
import csv
import re
import statistics
from collections import namedtuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAX_WORDS = 400
TOKEN = re.compile(r"[^\W_]+")

# Token-id tensors, hard labels and soft labels of the training rows; the test rows' ids,
# labels and teacher answers; the word-vector matrix.
Data = namedtuple("Data", "docs y p test_docs test_y test_teacher vectors")


def words(text):
    """The student's tokens: runs of letters and digits, lowercased (crates/runtime/src/text.rs)."""
    return TOKEN.findall(text.lower())[:MAX_WORDS]


def read_rows(path):
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    soft = sorted(k for k in rows[0] if k.startswith("teacher_p_"))
    return rows, soft


def read_vectors(path):
    """The .vec file as (vocabulary → row, matrix); row 0 is the zero vector of unknown words.
    Standardised per dimension (sd 1/8), as distillery scales its vector block."""
    vocab, vecs = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            if len(parts) <= 2:
                continue
            vocab[parts[0]] = len(vecs) + 1
            vecs.append(np.array(parts[1:], dtype=np.float32))
    m = np.stack(vecs)
    m = (m - m.mean(0)) / (m.std(0) + 1e-12) / 8
    return vocab, np.vstack([np.zeros((1, m.shape[1]), np.float32), m])


class WordOrderStudent(nn.Module):
    """Convolutions over word vectors, max-pooled, beside the mean vector; one hidden layer."""

    def __init__(self, vectors, widths, tune, filters=64, hidden=16, classes=2):
        super().__init__()
        dim = vectors.shape[1]
        self.embed = nn.Embedding.from_pretrained(torch.tensor(vectors), freeze=not tune)
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, w, padding=w - 1) for w in widths)
        self.head = nn.Sequential(nn.Linear(filters * len(widths) + dim, hidden), nn.ReLU(),
                                  nn.Linear(hidden, classes))

    def forward(self, docs):
        lengths = torch.tensor([len(d) for d in docs])
        ids = torch.stack([F.pad(d, (0, int(lengths.max()) - len(d))) for d in docs])
        e = self.embed(ids)
        real = torch.arange(ids.shape[1])[None] < lengths[:, None]
        mean = (e * real[..., None]).sum(1) / lengths[:, None]
        pooled = []
        for conv in self.convs:
            z = F.relu(conv(e.transpose(1, 2)))
            # Positions past the text (padding) never win the max.
            inside = torch.arange(z.shape[2])[None] < (lengths[:, None] + conv.kernel_size[0] - 1)
            pooled.append(z.masked_fill(~inside[:, None], 0.0).max(2).values)
        return self.head(torch.cat(pooled + [mean], 1))


def predict(net, docs):
    net.eval()
    with torch.no_grad():
        return torch.cat([net(docs[i:i + 256]) for i in range(0, len(docs), 256)]).argmax(1).numpy()


def run(args, seed, data):
    docs, y, p = data.docs, data.y, data.p
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(docs))
    n_val = len(docs) // 10
    val, train = order[:n_val], order[n_val:]
    widths = [int(w) for w in args.widths.split(",") if w]
    net = WordOrderStudent(data.vectors, widths, args.tune_words, classes=p.shape[1])
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    t, soft_weight = 2.0, (0.7 if args.labels == "soft" else 0.0)
    best = (-1.0, None)
    for _ in range(args.epochs):
        net.train()
        rng.shuffle(train)
        for start in range(0, len(train), 32):
            b = train[start:start + 32]
            logits = net([docs[j] for j in b])
            hard = F.cross_entropy(logits, torch.tensor(y[b]))
            target = F.softmax(torch.tensor(p[b]).clamp(1e-7, 1).log() / t, 1)
            kl = F.kl_div(F.log_softmax(logits / t, 1), target, reduction="batchmean") * t * t
            loss = soft_weight * kl + (1 - soft_weight) * hard
            opt.zero_grad()
            loss.backward()
            opt.step()
        pv = predict(net, [docs[j] for j in val])
        score = (pv == (p[val].argmax(1) if soft_weight > 0 else y[val])).mean()
        if score > best[0]:
            best = (score, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[1])
    pt = predict(net, data.test_docs)
    return (pt == data.test_y).mean(), (pt == data.test_teacher).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--labels", choices=["soft", "hard"], default="soft")
    ap.add_argument("--tune-words", action="store_true", help="train the word vectors too")
    ap.add_argument("--widths", default="1,2,3", help='convolution widths; "" for none')
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(2)
    train_rows, soft = read_rows(f"{args.dir}/train.csv")
    test_rows, _ = read_rows(f"{args.dir}/test.csv")
    classes = [c[len("teacher_p_"):] for c in soft]
    vocab, vectors = read_vectors(f"{args.dir}/words.vec")

    def ids(rows):
        return [torch.tensor([vocab.get(w, 0) for w in words(r["text"])] or [0]) for r in rows]

    def probs(rows):
        return np.array([[float(r[c]) for c in soft] for r in rows], dtype=np.float32)

    def labels(rows):
        return np.array([classes.index(r["label"]) for r in rows])

    data = Data(ids(train_rows), labels(train_rows), probs(train_rows), ids(test_rows),
                labels(test_rows), probs(test_rows).argmax(1), vectors)
    teacher = (data.test_teacher == data.test_y).mean()
    print(f"the teacher's soft labels agree with the training labels on {(data.p.argmax(1) == data.y).mean():.3f}"
          " of the training rows")
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        acc, fid = run(args, seed, data)
        results.append((acc, fid))
        print(f"seed {seed}: test accuracy {acc:.4f}, fidelity {fid:.4f} (teacher {teacher:.4f})",
              flush=True)
    acc = statistics.mean(r[0] for r in results)
    fid = statistics.mean(r[1] for r in results)
    print(f"mean: test accuracy {acc:.4f} ({acc / teacher:.1%} of the teacher), fidelity {fid:.4f}"
          f"  [labels {args.labels}, widths '{args.widths}', words {'tuned' if args.tune_words else 'frozen'}]")


if __name__ == "__main__":
    main()
