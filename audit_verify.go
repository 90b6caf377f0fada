package cairn

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// AuditCheckpoint is a signed statement that the audit chain's entry Seq had
// hash Hash at Time. The hash covers every entry before it, so a checkpoint
// pins the whole prefix of the chain: rewriting or truncating that prefix,
// even with recomputed hashes and a reset counter, no longer matches a
// checkpoint that only the holder of the private key could have signed.
type AuditCheckpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`    // see AuditKeyID
	Signature []byte    `json:"signature"` // ed25519 over Message; base64 in JSON
}

// Message returns the bytes a checkpoint's signature covers.
func (c *AuditCheckpoint) Message() []byte {
	return []byte("cairn-audit-checkpoint-v1\n" + strconv.FormatInt(c.Seq, 10) + "\n" +
		c.Hash + "\n" + c.Time.UTC().Format(time.RFC3339Nano) + "\n" + c.KeyID + "\n")
}

// Sign sets c.KeyID and c.Signature with key; c.Time is truncated to the
// microsecond first, the precision stores keep.
func (c *AuditCheckpoint) Sign(key ed25519.PrivateKey) {
	c.Time = Timestamp(c.Time)
	c.KeyID = AuditKeyID(key.Public().(ed25519.PublicKey))
	c.Signature = ed25519.Sign(key, c.Message())
}

// Verify reports whether c is signed by pub.
func (c *AuditCheckpoint) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && c.KeyID == AuditKeyID(pub) &&
		ed25519.Verify(pub, c.Message(), c.Signature)
}

// AuditKeyID names a checkpoint signing key: the first 16 hex digits of the
// sha256 of the public key.
func AuditKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// AuditProblem is the first thing wrong with an audit chain: the entry's
// sequence number (or the checkpoint's) and what is wrong there.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (p *AuditProblem) Error() string {
	return fmt.Sprintf("audit entry %d: %s", p.Seq, p.Reason)
}

// AuditLog is what verification reads: the entries in sequence order, the
// audit counter (how many entries were ever appended) and the checkpoints.
// Every Reader is one.
type AuditLog interface {
	ListAudit(ctx context.Context, q AuditQuery) ([]*AuditEntry, error)
	// AuditHead returns the audit counter: the sequence number of the last
	// entry appended.
	AuditHead(ctx context.Context) (int64, error)
	// ListAuditCheckpoints returns up to limit checkpoints with Seq >
	// after, in sequence order.
	ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*AuditCheckpoint, error)
}

// AuditReport is the outcome of VerifyAudit. OK is true when Problem is nil.
type AuditReport struct {
	OK       bool   `json:"ok"`
	Entries  int64  `json:"entries"`   // entries read and checked
	Head     int64  `json:"head"`      // the audit counter
	LastHash string `json:"last_hash"` // hash of the last entry checked
	// Checkpoints is how many checkpoints were compared with the chain;
	// SignaturesChecked how many of them had their signature checked
	// (all of them when a public key was given).
	Checkpoints       int64            `json:"checkpoints"`
	SignaturesChecked int64            `json:"signatures_checked"`
	LastCheckpoint    *AuditCheckpoint `json:"last_checkpoint,omitempty"`
	Problem           *AuditProblem    `json:"problem,omitempty"`
}

// auditVerifyPage is how many entries (and checkpoints) VerifyAudit reads
// at a time: memory stays flat whatever the log's length.
const auditVerifyPage = 1000

// VerifyAudit walks the audit chain from its first entry, page by page,
// and reports the first entry that is wrong:
//
//   - a sequence number out of order or missing (a deleted entry);
//   - a hash that does not match the entry's content (an edited entry);
//   - a prev_hash that is not the previous entry's hash (a reordered,
//     inserted or rewritten entry);
//   - a checkpoint whose (seq, hash) the chain no longer holds, or whose
//     signature does not verify under pub (if pub is not nil);
//   - fewer entries than the audit counter says were appended, or than
//     the last checkpoint covers (a truncated tail).
//
// A problem is reported in the report, not as an error; the error is for a
// failure to read.
func VerifyAudit(ctx context.Context, log AuditLog, pub ed25519.PublicKey) (*AuditReport, error) {
	// The counter first: entries appended while the walk runs are then
	// beyond it and do not look like a truncation.
	head, err := log.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	r := &AuditReport{Head: head}
	var (
		next     int64 = 1 // the sequence number the next entry must have
		prev     string
		cps      []*AuditCheckpoint // checkpoints not yet reached
		cpAfter  int64              // the last checkpoint fetched
		cpDone   bool
		problemf = func(seq int64, format string, args ...any) (*AuditReport, error) {
			r.Problem = &AuditProblem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
			return r, nil
		}
	)
	// fetchCheckpoints reads checkpoints until one beyond upTo is known
	// (or there are no more), checking each signature as it comes.
	fetchCheckpoints := func(upTo int64) (*AuditProblem, error) {
		for !cpDone && (len(cps) == 0 || cps[len(cps)-1].Seq <= upTo) {
			page, err := log.ListAuditCheckpoints(ctx, cpAfter, auditVerifyPage)
			if err != nil {
				return nil, err
			}
			if len(page) < auditVerifyPage {
				cpDone = true
			}
			for _, c := range page {
				if pub != nil {
					if !c.Verify(pub) {
						return &AuditProblem{Seq: c.Seq, Reason: fmt.Sprintf(
							"the checkpoint's signature does not verify with key %s (signed by key %q): forged or altered checkpoint",
							AuditKeyID(pub), c.KeyID)}, nil
					}
					r.SignaturesChecked++
				}
				cpAfter = c.Seq
				cps = append(cps, c)
				r.LastCheckpoint = c
			}
		}
		return nil, nil
	}
walk:
	for next <= head {
		page, err := log.ListAudit(ctx, AuditQuery{AfterSeq: next - 1, Limit: auditVerifyPage})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		if p, err := fetchCheckpoints(page[len(page)-1].Seq); err != nil || p != nil {
			r.Problem = p
			return r, err
		}
		for _, e := range page {
			if e.Seq > head && e.Seq >= next {
				// Appended after the walk began (or a gap before it, which
				// the counter check below reports).
				break walk
			}
			if e.Seq != next {
				if next == 1 {
					return problemf(1, "the chain starts at entry %d: entries 1 to %d are missing (deleted)", e.Seq, e.Seq-1)
				}
				return problemf(next, "missing (deleted): entry %d is followed by entry %d", next-1, e.Seq)
			}
			if e.PrevHash != prev {
				return problemf(e.Seq, "prev_hash %s is not the hash of the entry before it (%s): entry replaced, reordered or inserted", short(e.PrevHash), short(prev))
			}
			if h := e.ComputeHash(e.PrevHash); h != e.Hash {
				return problemf(e.Seq, "content does not match its hash %s (recomputed %s): entry edited", short(e.Hash), short(h))
			}
			for len(cps) > 0 && cps[0].Seq <= e.Seq {
				c := cps[0]
				cps = cps[1:]
				if c.Seq < e.Seq {
					// Unreachable while sequence numbers are contiguous.
					return problemf(c.Seq, "the chain has no entry %d, which a checkpoint signed at %s covers", c.Seq, c.Time.Format(time.RFC3339))
				}
				if c.Hash != e.Hash {
					return problemf(e.Seq, "hash %s differs from the checkpoint signed at %s (%s): history rewritten", short(e.Hash), c.Time.Format(time.RFC3339), short(c.Hash))
				}
				r.Checkpoints++
			}
			prev = e.Hash
			next++
			r.Entries++
			r.LastHash = e.Hash
		}
	}
	last := next - 1
	if last < head {
		return problemf(last+1, "missing (deleted or truncated): the chain ends at entry %d, but the audit counter says %d entries were appended", last, head)
	}
	// Checkpoints beyond the walk are fine if written after the walk began
	// over entries appended since; otherwise the tail they cover is gone,
	// counter and all.
	if p, err := fetchCheckpoints(last); err != nil || p != nil {
		r.Problem = p
		return r, err
	}
	for _, c := range cps {
		es, err := log.ListAudit(ctx, AuditQuery{AfterSeq: c.Seq - 1, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(es) == 0 || es[0].Seq != c.Seq {
			return problemf(last+1, "the chain ends at entry %d, but a checkpoint signed at %s covers entry %d: the log was truncated", last, c.Time.Format(time.RFC3339), c.Seq)
		}
		if es[0].Hash != c.Hash {
			return problemf(c.Seq, "hash %s differs from the checkpoint signed at %s (%s): history rewritten", short(es[0].Hash), c.Time.Format(time.RFC3339), short(c.Hash))
		}
	}
	r.OK = true
	return r, nil
}

// short abbreviates a hash for messages.
func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
