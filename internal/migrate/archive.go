package migrate

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// An archive is a registry as one tar stream, written by Export and read by
// Import, for moving a registry when the two sides cannot reach each other
// or for keeping a copy. Its entries, in this order:
//
//	cairn-archive.json        the format and where the source ended when the export began
//	audit_entries/000001.jsonl audit entries, one JSON object a line
//	audit_checkpoints/…      signed audit checkpoints
//	events/000001.jsonl …
//	models/000001.jsonl …
//	blobs/sha256/<hex> …      the bytes of the files of the versions that follow
//	versions/000001.jsonl …   (blobs and versions alternate, a batch at a time)
//	aliases/…  alias_moves/…  experiments/…  runs/… (each run with its metric history)  logged_models/…  lineage_edges/…  signals/…
//	policies/…                each policy with every version of it, deleted ones too
//	approval_requests/…       every approval request, in its state, with its decisions
//	users/…                   each user with its role bindings and tokens (hashes, never secrets)
//	webhooks/…                each subscription with its secret, cursor and pending dead letters
//	end.json                  where the source ended: audit and event heads, counts of models, runs, policies, requests
//
// Records are the domain types' JSON, except that the raw JSON an audit
// entry's hash covers (before, after), an event's payload and a version's
// signature travel base64-encoded, as exact bytes: encoding/json would
// otherwise compact them. A chunk holds one batch, so it is buffered;
// blobs stream. An archive without end.json was cut off, and Import refuses
// to finish from it.

// ArchiveFormat names the archive format in cairn-archive.json.
const ArchiveFormat = "cairn-archive/1"

const (
	archiveHeader = "cairn-archive.json"
	archiveEnd    = "end.json"
	blobPrefix    = "blobs/sha256/"
)

type archiveHead struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	// Audit and Events are where the source ended when the export began.
	Audit  head `json:"audit"`
	Events head `json:"events"`
}

// Lines of the JSONL chunks whose raw JSON must keep its bytes. The outer
// field shadows the embedded one of the same JSON name.
type (
	auditLine struct {
		*cairn.AuditEntry
		Before []byte `json:"before,omitempty"`
		After  []byte `json:"after,omitempty"`
	}
	eventLine struct {
		*cairn.Event
		Payload []byte `json:"payload"`
	}
	versionLine struct {
		*cairn.Version
		Signature []byte `json:"signature,omitempty"`
	}
)

// phaseOrder is the order of the kinds of chunks in an archive.
var phaseOrder = map[string]int{
	KindAudit: 1, KindCheckpoints: 2, KindEvents: 2, KindModels: 3, KindVersions: 4, KindBlobs: 4, KindArtifacts: 4,
	KindAliases: 5, KindAliasMoves: 5, KindExperiments: 6, KindRuns: 6, KindLoggedModels: 6, KindEdges: 7, KindSignals: 8,
	KindPolicies: 9, KindApprovals: 9, KindUsers: 10, KindWebhooks: 11,
}

// Export writes the registry in src to w as an archive. The source must
// not change meanwhile (stop its servers): Export checks at the end that
// its audit log has not grown, and writes end.json only then. Every blob is
// verified against its digest as it is read.
func Export(ctx context.Context, src Stores, w io.Writer, opts Options) (*Report, error) {
	c := newCopier(opts)
	var ok bool
	if c.srcExp, ok = src.Meta.(cairn.Exporter); !ok {
		return c.rep, cairn.Errorf(cairn.EINVALID, "the source metadata store (%T) cannot export records", src.Meta)
	}
	c.src = src
	start, err := registryEnds(ctx, src.Meta, c.srcExp)
	if err != nil {
		return c.rep, err
	}
	tw := tar.NewWriter(w)
	a := &archiveWriter{tw: tw, now: time.Now().UTC(), seq: map[string]int{}}
	if err := a.json(archiveHeader, archiveHead{Format: ArchiveFormat, CreatedAt: a.now, Audit: start.Audit, Events: start.Events}); err != nil {
		return c.rep, err
	}
	chunk := func(kind string, n int, lines func(enc *json.Encoder) error) error {
		if err := a.chunk(kind, lines); err != nil {
			return err
		}
		c.rep.Copied[kind] += int64(n)
		c.progress()
		return nil
	}
	wk := &walker{src: src, exp: c.srcExp, batch: c.opts.Batch}
	err = wk.walk(ctx, 0, 0, visitor{
		phase: c.setPhase,
		audit: func(_ context.Context, es []*cairn.AuditEntry) error {
			return chunk(KindAudit, len(es), func(enc *json.Encoder) error {
				for _, e := range es {
					if err := enc.Encode(auditLine{AuditEntry: e, Before: e.Before, After: e.After}); err != nil {
						return err
					}
				}
				return nil
			})
		},
		checkpoints: func(_ context.Context, cs []*cairn.AuditCheckpoint) error {
			return chunk(KindCheckpoints, len(cs), encodeAll(cs))
		},
		events: func(_ context.Context, evs []*cairn.Event) error {
			return chunk(KindEvents, len(evs), func(enc *json.Encoder) error {
				for _, ev := range evs {
					if err := enc.Encode(eventLine{Event: ev, Payload: ev.Payload}); err != nil {
						return err
					}
				}
				return nil
			})
		},
		models: func(_ context.Context, ms []*cairn.Model) error { return chunk(KindModels, len(ms), encodeAll(ms)) },
		versions: func(ctx context.Context, vs []*cairn.Version) error {
			if err := c.exportBlobs(ctx, a, vs); err != nil {
				return err
			}
			return chunk(KindVersions, len(vs), func(enc *json.Encoder) error {
				for _, v := range vs {
					if err := enc.Encode(versionLine{Version: v, Signature: v.Signature}); err != nil {
						return err
					}
				}
				return nil
			})
		},
		artifacts: func(ctx context.Context, as []*cairn.Artifact) error {
			if err := c.exportBlobJobs(ctx, a, artifactBlobJobs(as)); err != nil {
				return err
			}
			return chunk(KindArtifacts, len(as), encodeAll(as))
		},
		aliases: func(_ context.Context, as []*cairn.Alias) error { return chunk(KindAliases, len(as), encodeAll(as)) },
		aliasMoves: func(_ context.Context, ms []*cairn.AliasMove) error {
			return chunk(KindAliasMoves, len(ms), encodeAll(ms))
		},
		runs: func(_ context.Context, rs []runRecord) error { return chunk(KindRuns, len(rs), encodeAll(rs)) },
		experiments: func(_ context.Context, es []*cairn.Experiment) error {
			return chunk(KindExperiments, len(es), encodeAll(es))
		},
		loggedModels: func(_ context.Context, ms []*cairn.LoggedModel) error {
			return chunk(KindLoggedModels, len(ms), encodeAll(ms))
		},
		edges: func(_ context.Context, es []cairn.Edge) error { return chunk(KindEdges, len(es), encodeAll(es)) },
		signals: func(_ context.Context, ss []*cairn.Signal) error {
			return chunk(KindSignals, len(ss), encodeAll(ss))
		},
		policies: func(_ context.Context, rs []policyRecord) error {
			return chunk(KindPolicies, len(rs), encodeAll(rs))
		},
		approvals: func(_ context.Context, as []*cairn.ApprovalRequest) error {
			return chunk(KindApprovals, len(as), encodeAll(as))
		},
		users: func(_ context.Context, rs []identityRecord) error { return chunk(KindUsers, len(rs), encodeAll(rs)) },
		webhooks: func(_ context.Context, rs []webhookRecord) error {
			return chunk(KindWebhooks, len(rs), encodeAll(rs))
		},
	})
	if err != nil {
		return c.rep, fmt.Errorf("export %w", err)
	}
	c.setPhase("verify")
	end, err := registryEnds(ctx, src.Meta, c.srcExp)
	if err != nil {
		return c.rep, err
	}
	if end != start {
		return c.rep, cairn.Errorf(cairn.EFAILEDPRECONDITION,
			"the source changed during the export (audit log %d → %d entries, %d → %d models): stop every server on the source and export again",
			start.Audit.Seq, end.Audit.Seq, start.Models, end.Models)
	}
	if err := a.json(archiveEnd, end); err != nil {
		return c.rep, err
	}
	if err := tw.Close(); err != nil {
		return c.rep, fmt.Errorf("write archive: %w", err)
	}
	c.setPhase("done")
	return c.rep, nil
}

// encodeAll returns a chunk writer of one JSON line per item.
func encodeAll[T any](items []T) func(enc *json.Encoder) error {
	return func(enc *json.Encoder) error {
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// archiveWriter writes the entries of an archive.
type archiveWriter struct {
	tw  *tar.Writer
	now time.Time
	seq map[string]int // chunks written per kind
	buf bytes.Buffer
}

func (a *archiveWriter) entry(name string, size int64) error {
	if err := a.tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: a.now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

func (a *archiveWriter) json(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "encode %s", name)
	}
	if err := a.entry(name, int64(len(b))); err != nil {
		return err
	}
	_, err = a.tw.Write(b)
	return err
}

// chunk writes one JSONL chunk of kind.
func (a *archiveWriter) chunk(kind string, lines func(enc *json.Encoder) error) error {
	a.buf.Reset()
	enc := json.NewEncoder(&a.buf)
	enc.SetEscapeHTML(false)
	if err := lines(enc); err != nil {
		return cairn.WrapError(cairn.EINVALID, err, "encode %s", kind)
	}
	a.seq[kind]++
	if err := a.entry(fmt.Sprintf("%s/%06d.jsonl", kind, a.seq[kind]), int64(a.buf.Len())); err != nil {
		return err
	}
	_, err := a.tw.Write(a.buf.Bytes())
	return err
}

// exportBlobs writes the blobs of vs not written yet.
func (c *copier) exportBlobs(ctx context.Context, a *archiveWriter, vs []*cairn.Version) error {
	return c.exportBlobJobs(ctx, a, versionBlobJobs(c.done, vs))
}

// exportBlobJobs writes the blobs of jobs not written yet, streaming each
// from the source and checking its digest on the way. A blob the source
// lacks is counted absent unless the job requires it.
func (c *copier) exportBlobJobs(ctx context.Context, a *archiveWriter, jobs []blobJob) error {
	for _, j := range jobs {
		if c.done[j.d] {
			continue
		}
		r, size, err := c.src.Blobs.Open(ctx, j.d)
		if cairn.IsCode(err, cairn.ENOTFOUND) && !j.required {
			c.done[j.d] = true
			c.rep.AbsentBlobs++
			continue
		}
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return cairn.WrapError(cairn.EFAILEDPRECONDITION, err, "the source blob store lacks blob %s of %s", j.d, j.ref)
		}
		if err != nil {
			return fmt.Errorf("source blob %s: %w", j.d, err)
		}
		err = func() error {
			defer r.Close()
			if err := a.entry(blobPrefix+j.d.Hex(), size); err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(a.tw, h), r)
			if err != nil {
				return fmt.Errorf("export blob %s: %w", j.d, err)
			}
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); n != size || got != string(j.d) {
				return cairn.Errorf(cairn.EFAILEDPRECONDITION,
					"the source's blob %s (%s) is corrupt: its %d bytes hash to %s", j.d, j.ref, n, got)
			}
			return nil
		}()
		if err != nil {
			return err
		}
		c.done[j.d] = true
		c.rep.Copied[KindBlobs]++
		c.rep.BlobBytes += size
	}
	return nil
}

// Import reads an archive written by Export from r into dst. Like Copy, it
// takes an empty target, or one that an interrupted Import of the same
// archive left, and then skips what is there; it checks every blob's
// digest and every audit entry's place in the chain as it writes them, and
// at the end that the target ends where the archive says the source did.
// An archive that was cut off (no end.json) is refused at its end.
func Import(ctx context.Context, r io.Reader, dst Stores, opts Options) (*Report, error) {
	c := newCopier(opts)
	var ok bool
	if c.dstExp, ok = dst.Meta.(cairn.Exporter); !ok {
		return c.rep, cairn.Errorf(cairn.EINVALID, "the target metadata store (%T) cannot list records", dst.Meta)
	}
	c.dst = dst
	tr := tar.NewReader(bufio.NewReaderSize(r, 1<<20))
	hdr, err := tr.Next()
	if err != nil || hdr.Name != archiveHeader {
		return c.rep, cairn.Errorf(cairn.EINVALID, "not a Cairn archive: it does not start with %s", archiveHeader)
	}
	var ah archiveHead
	if err := decodeEntry(tr, hdr, &ah); err != nil {
		return c.rep, err
	}
	if ah.Format != ArchiveFormat {
		return c.rep, cairn.Errorf(cairn.EINVALID, "archive format %q; this Cairn reads %q", ah.Format, ArchiveFormat)
	}
	if err := c.preflightArchive(ctx, ah); err != nil {
		return c.rep, err
	}
	// Entries the target has are read from the archive again, and counted
	// as skipped then: ImportAudit compares their hashes.
	var end *ends
	phase := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c.rep, fmt.Errorf("read archive: %w", err)
		}
		if end != nil {
			return c.rep, cairn.Errorf(cairn.EINVALID, "archive entry %q after %s", hdr.Name, archiveEnd)
		}
		if hdr.Name == archiveEnd {
			end = &ends{}
			if err := decodeEntry(tr, hdr, end); err != nil {
				return c.rep, err
			}
			continue
		}
		kind, _, _ := strings.Cut(hdr.Name, "/")
		if strings.HasPrefix(hdr.Name, blobPrefix) {
			kind = KindBlobs
		}
		p, known := phaseOrder[kind]
		if !known || hdr.Typeflag != tar.TypeReg {
			return c.rep, cairn.Errorf(cairn.EINVALID, "unexpected archive entry %q", hdr.Name)
		}
		if p < phase {
			return c.rep, cairn.Errorf(cairn.EINVALID, "archive entry %q is out of order", hdr.Name)
		}
		if p > phase {
			phase = p
			if kind == KindBlobs {
				c.setPhase(KindVersions)
			} else {
				c.setPhase(kind)
			}
		}
		if err := c.importEntry(ctx, tr, hdr, kind); err != nil {
			return c.rep, fmt.Errorf("import %s: %w", hdr.Name, err)
		}
	}
	if end == nil {
		return c.rep, cairn.Errorf(cairn.EINVALID,
			"the archive is incomplete (it has no %s): the export was cut off; what it held is imported, but export again and import that", archiveEnd)
	}
	c.setPhase("verify")
	if err := c.verifyTarget(ctx, *end, "archive"); err != nil {
		return c.rep, fmt.Errorf("verify: %w", err)
	}
	c.setPhase("done")
	return c.rep, nil
}

// preflightArchive decides whether dst may receive the archive: it must be
// empty, or hold a prefix of it, which the audit entries confirm one by
// one as they are imported (ImportAudit compares the hashes of those it
// has).
func (c *copier) preflightArchive(ctx context.Context, ah archiveHead) error {
	dstAudit, err := auditHead(ctx, c.dst.Meta)
	if err != nil {
		return err
	}
	dstEvents, err := eventHead(ctx, c.dst.Meta)
	if err != nil {
		return err
	}
	c.auditHead, c.eventHead = dstAudit.Seq, dstEvents.Seq
	c.eventAt = dstEvents
	const hint = "import into an empty database (and bucket or directory), or into the target of an interrupted import of this same archive"
	if dstAudit.Seq > ah.Audit.Seq || dstEvents.Seq > ah.Events.Seq {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION,
			"the target is not empty and holds more than the archive (%d audit entries, %d events; the archive has %d and %d): %s",
			dstAudit.Seq, dstEvents.Seq, ah.Audit.Seq, ah.Events.Seq, hint)
	}
	if dstAudit.Seq == 0 && ah.Audit.Seq > 0 {
		empty, err := c.targetEmpty(ctx)
		if err != nil {
			return err
		}
		if !empty {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target is not empty: %s", hint)
		}
	}
	return nil
}

func decodeEntry(tr *tar.Reader, hdr *tar.Header, v any) error {
	if hdr.Size > 1<<20 {
		return cairn.Errorf(cairn.EINVALID, "archive entry %s is %d bytes; the limit is 1 MiB", hdr.Name, hdr.Size)
	}
	if err := json.NewDecoder(tr).Decode(v); err != nil {
		return cairn.WrapError(cairn.EINVALID, err, "archive entry %s", hdr.Name)
	}
	return nil
}

// maxChunk bounds a JSONL chunk: a batch of at most 1000 records.
const maxChunk = 1 << 30

// importEntry imports one entry of an archive.
func (c *copier) importEntry(ctx context.Context, tr *tar.Reader, hdr *tar.Header, kind string) error {
	if kind == KindBlobs {
		return c.importBlob(ctx, tr, hdr)
	}
	if hdr.Size > maxChunk {
		return cairn.Errorf(cairn.ETOOLARGE, "chunk of %d bytes", hdr.Size)
	}
	dec := json.NewDecoder(tr)
	switch kind {
	case KindAudit:
		var es []*cairn.AuditEntry
		err := decodeLines(dec, func() error {
			l := auditLine{AuditEntry: &cairn.AuditEntry{}}
			if err := dec.Decode(&l); err != nil {
				return err
			}
			l.AuditEntry.Before, l.AuditEntry.After = l.Before, l.After
			es = append(es, l.AuditEntry)
			return nil
		})
		if err != nil {
			return err
		}
		return c.importAudit(ctx, es)
	case KindEvents:
		var evs []*cairn.Event
		err := decodeLines(dec, func() error {
			l := eventLine{Event: &cairn.Event{}}
			if err := dec.Decode(&l); err != nil {
				return err
			}
			l.Event.Payload = l.Payload
			if l.Event.Seq == c.eventAt.Seq && l.Event.ID != c.eventAt.ID {
				return cairn.Errorf(cairn.EFAILEDPRECONDITION,
					"the target's event %d has id %q, the archive's %q: the target is not an import of this archive", l.Event.Seq, c.eventAt.ID, l.Event.ID)
			}
			evs = append(evs, l.Event)
			return nil
		})
		if err != nil {
			return err
		}
		return c.importEvents(ctx, evs)
	case KindCheckpoints:
		cs, err := decodeAll[*cairn.AuditCheckpoint](dec)
		if err != nil {
			return err
		}
		return c.importCheckpoints(ctx, cs)
	case KindModels:
		ms, err := decodeAll[*cairn.Model](dec)
		if err != nil {
			return err
		}
		return c.importModels(ctx, ms)
	case KindVersions:
		var vs []*cairn.Version
		err := decodeLines(dec, func() error {
			l := versionLine{Version: &cairn.Version{}}
			if err := dec.Decode(&l); err != nil {
				return err
			}
			l.Version.Signature = l.Signature
			vs = append(vs, l.Version)
			return nil
		})
		if err != nil {
			return err
		}
		if err := c.checkBlobsPresent(ctx, vs); err != nil {
			return err
		}
		return c.importVersions(ctx, vs)
	case KindArtifacts:
		as, err := decodeAll[*cairn.Artifact](dec)
		if err != nil {
			return err
		}
		if err := c.checkArtifactBlobsPresent(ctx, as); err != nil {
			return err
		}
		return c.importArtifacts(ctx, as)
	case KindAliases:
		as, err := decodeAll[*cairn.Alias](dec)
		if err != nil {
			return err
		}
		return c.importAliases(ctx, as)
	case KindAliasMoves:
		ms, err := decodeAll[*cairn.AliasMove](dec)
		if err != nil {
			return err
		}
		return c.importAliasMoves(ctx, ms)
	case KindRuns:
		rs, err := decodeAll[runRecord](dec)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Run == nil {
				return cairn.Errorf(cairn.EINVALID, "a run line without a run")
			}
		}
		return c.importRuns(ctx, rs)
	case KindExperiments:
		es, err := decodeAll[*cairn.Experiment](dec)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e == nil || e.ID == "" {
				return cairn.Errorf(cairn.EINVALID, "an experiment line without an id")
			}
		}
		return c.importExperiments(ctx, es)
	case KindLoggedModels:
		ms, err := decodeAll[*cairn.LoggedModel](dec)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m == nil || m.ID == "" {
				return cairn.Errorf(cairn.EINVALID, "a logged model line without an id")
			}
		}
		return c.importLoggedModels(ctx, ms)
	case KindEdges:
		es, err := decodeAll[cairn.Edge](dec)
		if err != nil {
			return err
		}
		return c.importEdges(ctx, es)
	case KindSignals:
		ss, err := decodeAll[*cairn.Signal](dec)
		if err != nil {
			return err
		}
		return c.importSignals(ctx, ss)
	case KindPolicies:
		rs, err := decodeAll[policyRecord](dec)
		if err != nil {
			return err
		}
		return c.importPolicies(ctx, rs)
	case KindApprovals:
		as, err := decodeAll[*cairn.ApprovalRequest](dec)
		if err != nil {
			return err
		}
		return c.importApprovals(ctx, as)
	case KindUsers:
		rs, err := decodeAll[identityRecord](dec)
		if err != nil {
			return err
		}
		return c.importUsers(ctx, rs)
	case KindWebhooks:
		rs, err := decodeAll[webhookRecord](dec)
		if err != nil {
			return err
		}
		return c.importWebhooks(ctx, rs)
	}
	return cairn.Errorf(cairn.EINVALID, "unexpected archive entry %q", hdr.Name)
}

func decodeLines(dec *json.Decoder, one func() error) error {
	for dec.More() {
		if err := one(); err != nil {
			if cairn.ErrorCodeOf(err) == cairn.EINTERNAL {
				return cairn.WrapError(cairn.EINVALID, err, "decode")
			}
			return err
		}
	}
	return nil
}

func decodeAll[T any](dec *json.Decoder) ([]T, error) {
	var out []T
	err := decodeLines(dec, func() error {
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// importBlob puts one blob from the archive, streaming; the store checks
// its digest. A blob the target has is skipped.
func (c *copier) importBlob(ctx context.Context, tr *tar.Reader, hdr *tar.Header) error {
	d, err := cairn.ParseDigest("sha256:" + strings.TrimPrefix(hdr.Name, blobPrefix))
	if err != nil {
		return err
	}
	if c.done[d] {
		return nil
	}
	if _, err := c.dst.Blobs.Stat(ctx, d); err == nil {
		c.done[d] = true
		c.rep.Skipped[KindBlobs]++
		return nil
	} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return fmt.Errorf("target blob %s: %w", d, err)
	}
	if err := c.dst.Blobs.Put(ctx, d, hdr.Size, tr); err != nil {
		return err
	}
	c.done[d] = true
	c.rep.Copied[KindBlobs]++
	c.rep.BlobBytes += hdr.Size
	c.progress()
	return nil
}

// checkBlobsPresent makes sure that every file of the ready versions in vs
// is on the target before the versions are written: the archive carried it
// (or an earlier import put it there).
func (c *copier) checkBlobsPresent(ctx context.Context, vs []*cairn.Version) error {
	for _, v := range vs {
		for _, f := range v.Files {
			if c.done[f.Digest] {
				continue
			}
			_, err := c.dst.Blobs.Stat(ctx, f.Digest)
			switch {
			case err == nil:
				c.done[f.Digest] = true
			case !cairn.IsCode(err, cairn.ENOTFOUND):
				return fmt.Errorf("target blob %s: %w", f.Digest, err)
			case v.Status == cairn.StatusReady:
				return cairn.Errorf(cairn.EINVALID, "the archive lacks blob %s of %s/%s, a ready version", f.Digest, v.Ref(), f.Path)
			default:
				c.done[f.Digest] = true
				c.rep.AbsentBlobs++
			}
		}
	}
	return nil
}
