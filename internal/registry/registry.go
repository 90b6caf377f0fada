// Package registry is Cairn's business layer: every front door (native API,
// MLflow API, UI, CLI through the client) calls this Service. It owns the
// rules — name validation, version allocation, immutability, alias
// compare-and-swap, lifecycle — and the one mutation path: each change, its
// audit entry and its outbox event commit in one store transaction or not at
// all.
package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cairn-registry/cairn"
)

// Options tune a Service. Zero values mean the defaults.
type Options struct {
	// UploadTTL is how long an upload session lives without completing.
	UploadTTL time.Duration
	// PendingTTL is how long a version may stay pending before it fails.
	PendingTTL time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
	// GCLease is how long a garbage collection's lease lasts unless
	// renewed (it is renewed every third of it): how long a collector that
	// died holds off the next one. Default 1 minute.
	GCLease time.Duration
	// Auth turns authorization on: every operation checks the caller's
	// roles (see auth.go). Off, everything is allowed (single-user mode).
	Auth bool
	// Logger receives permission denials. Default: discarded.
	Logger *slog.Logger
	// ApprovalTTL is how long an approval request stays open; default
	// DefaultApprovalTTL.
	ApprovalTTL time.Duration
	// PasswordIterations is the PBKDF2 iteration count for new password
	// hashes; 0 means cairn.DefaultPasswordIterations. Tests lower it.
	PasswordIterations int
	// SpoolDir holds artifact uploads while they are hashed (their digest
	// is not known until the last byte). Default: os.TempDir().
	SpoolDir string
	// MaxArtifactSize bounds one artifact upload, in bytes. Default:
	// DefaultMaxArtifactSize.
	MaxArtifactSize int64
	// AuditKey signs audit checkpoints (Checkpoint, RunCheckpoints) and
	// its public half verifies them (VerifyAudit). Nil: no checkpoints.
	AuditKey ed25519.PrivateKey
	// AuthCacheTTL is how long an authenticated principal (a token's or a
	// user name and password's owner, with its role bindings) is reused
	// without reading the database again; 0 means DefaultAuthCacheTTL,
	// negative turns the cache off. Changes made through this Service
	// apply at once; on other replicas they apply within this long (see
	// authcache.go and docs/security.md).
	AuthCacheTTL time.Duration
}

// Defaults for Options.
const (
	DefaultUploadTTL  = 24 * time.Hour
	DefaultPendingTTL = 24 * time.Hour
)

// Service implements the registry's operations over a metadata store and a
// blob store. It is safe for concurrent use, and several processes may run
// one each over the same stores: all coordination happens in the database.
type Service struct {
	store      cairn.Store
	blobs      cairn.BlobStore
	uploadTTL  time.Duration
	pendingTTL time.Duration
	now        func() time.Time
	gcLease    time.Duration
	auth       bool
	log        *slog.Logger
	pwIter     int
	pwCache    passwordCache
	dummyOnce  sync.Once
	dummy      string
	principals *principalCache

	spoolDir    string
	maxArtifact int64
	policies    policyCache
	auditKey    ed25519.PrivateKey
	approvalTTL time.Duration
}

// New returns a Service.
func New(store cairn.Store, blobs cairn.BlobStore, opts Options) *Service {
	s := &Service{store: store, blobs: blobs, uploadTTL: opts.UploadTTL, pendingTTL: opts.PendingTTL, now: opts.Now, gcLease: opts.GCLease,
		auth: opts.Auth, log: opts.Logger, pwIter: opts.PasswordIterations,
		spoolDir: opts.SpoolDir, maxArtifact: opts.MaxArtifactSize,
		auditKey: opts.AuditKey, approvalTTL: opts.ApprovalTTL}
	if s.maxArtifact <= 0 {
		s.maxArtifact = DefaultMaxArtifactSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pwIter <= 0 {
		s.pwIter = cairn.DefaultPasswordIterations
	}
	if s.gcLease <= 0 {
		s.gcLease = gcLeaseTTL
	}
	if s.uploadTTL <= 0 {
		s.uploadTTL = DefaultUploadTTL
	}
	if s.approvalTTL <= 0 {
		s.approvalTTL = DefaultApprovalTTL
	}
	if s.pendingTTL <= 0 {
		s.pendingTTL = DefaultPendingTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	ttl := opts.AuthCacheTTL
	if ttl == 0 {
		ttl = DefaultAuthCacheTTL
	}
	s.principals = newPrincipalCache(ttl, authCacheSize)
	return s
}

// Store returns the metadata store, for read paths that need no rules.
func (s *Service) Store() cairn.Store { return s.store }

// Blobs returns the blob store.
func (s *Service) Blobs() cairn.BlobStore { return s.blobs }

// mutation collects what one transaction changed, so that the audit entries
// and events are written by the same transaction as the change.
type mutation struct {
	tx      cairn.Tx
	actor   cairn.Actor
	reqID   string
	now     time.Time
	records []record
	// origin is kept with the alias move this mutation makes: where an
	// imported move was first made (SetAliasWith, DeleteAliasWith).
	origin *cairn.MoveOrigin
}

type record struct {
	action, target, model, alias string
	before, after                any
	auditOnly                    bool // no event: identity changes stay out of the feed
}

// record notes a change: action is an event type (cairn.Event*), target
// names what changed (churn, churn@v3, churn@champion). before and after
// are the entity's state, nil where it did not exist.
func (m *mutation) record(action, target, model, alias string, before, after any) {
	m.records = append(m.records, record{action: action, target: target, model: model, alias: alias, before: before, after: after})
}

// audit notes a change that is written to the audit log only.
func (m *mutation) audit(action, target string, before, after any) {
	m.records = append(m.records, record{action: action, target: target, before: before, after: after, auditOnly: true})
}

// update runs fn in a store transaction and appends one audit entry and one
// event per recorded change before committing. This is the only way the
// Service writes.
func (s *Service) update(ctx context.Context, fn func(m *mutation) error) error {
	actor := cairn.ActorFromContext(ctx)
	reqID := cairn.RequestIDFromContext(ctx)
	identity := false
	defer func() {
		// Users, tokens or role bindings changed (or may have, if the
		// commit failed late): authenticate from the database again.
		if identity {
			s.principals.invalidate()
		}
	}()
	return s.store.Update(ctx, func(tx cairn.Tx) error {
		m := &mutation{tx: tx, actor: actor, reqID: reqID, now: cairn.Timestamp(s.now())}
		if err := fn(m); err != nil {
			return err
		}
		for _, r := range m.records {
			identity = identity || isIdentityChange(r.action)
			before, err := marshalState(r.before)
			if err != nil {
				return err
			}
			after, err := marshalState(r.after)
			if err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, &cairn.AuditEntry{
				Time: m.now, Actor: actor.Name, ActorVerified: actor.Verified,
				Action: r.action, Target: r.target, Before: before, After: after, RequestID: reqID,
			}); err != nil {
				return fmt.Errorf("append audit entry: %w", err)
			}
			if r.auditOnly {
				continue
			}
			payload := after
			if payload == nil {
				payload = before
			}
			if payload == nil {
				payload = json.RawMessage(`{}`)
			}
			if err := tx.AppendEvent(ctx, &cairn.Event{
				ID: newID(), Type: r.action, Time: m.now, Actor: actor.Name,
				Model: r.model, Alias: r.alias, Payload: payload,
			}); err != nil {
				return fmt.Errorf("append event: %w", err)
			}
		}
		return nil
	})
}

// isIdentityChange reports whether an audit action changes who may
// authenticate or what a principal may do.
func isIdentityChange(action string) bool {
	return strings.HasPrefix(action, "user.") || strings.HasPrefix(action, "token.") || strings.HasPrefix(action, "role.")
}

// MaxStateFiles is the largest manifest that audit entries and events
// repeat in full. A version with more files (a dataset of 100,000 rows, a
// checkpoint of thousands of shards) appears in them without its files
// and with files_omitted, their number: its digest pins the manifest, the
// version record holds it, and the log and the feed stay small (a
// 100,000-file manifest is 13 MB of JSON, which each of version.created
// and version.ready would otherwise copy into the event and the audit
// entry, and webhooks would post).
const MaxStateFiles = 1000

// versionState is a version as audit entries and events show one whose
// manifest is over MaxStateFiles.
type versionState struct {
	*cairn.Version
	Files        []cairn.File `json:"files"`
	FilesOmitted int          `json:"files_omitted"`
}

func marshalState(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if ver, ok := v.(*cairn.Version); ok && ver != nil && len(ver.Files) > MaxStateFiles {
		v = versionState{Version: ver, Files: []cairn.File{}, FilesOmitted: len(ver.Files)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode audit state: %w", err)
	}
	return b, nil
}

// newID returns 32 random hex digits, the shape of MLflow run ids.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}
