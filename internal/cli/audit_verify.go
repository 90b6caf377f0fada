package cli

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
)

func (a *app) auditVerifyCommand() *cobra.Command {
	var pubPath string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check that the audit log is intact: hash chain, counter and signed checkpoints",
		Long: `Have the server walk the whole audit chain (admin): every entry's hash must
match its content, link to the entry before it, and the chain must reach as
far as the audit counter and every signed checkpoint. The first bad entry is
named with what is wrong there: edited, missing (deleted), reordered, or a
truncated tail.

With --public-key FILE (the public half from cairn audit keygen) the CLI also
reads every checkpoint and checks its signature itself, so that a server
without the key, or an attacker who rewrote the log and its hashes, cannot
pass a forged checkpoint off as signed.

Exits 0 when the log is intact, 1 when it is not.`,
		Example: `  cairn audit verify
  cairn audit verify --public-key audit-key.pub --json`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			var pub ed25519.PublicKey
			if pubPath != "" {
				var err error
				if pub, err = readAuditPublicKey(a.path(pubPath)); err != nil {
					return asUsage(c, err)
				}
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			rep, err := cl.VerifyAudit(c.Context())
			if err != nil {
				return err
			}
			if pub != nil && rep.Problem == nil {
				if err := a.checkCheckpointSignatures(c, pub, rep); err != nil {
					return err
				}
			}
			if a.json {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				f := newFields(a.stdout())
				status := "intact"
				if rep.Problem != nil {
					status = "BROKEN"
				}
				f.add("audit log", status)
				f.add("entries", fmt.Sprint(rep.Entries))
				f.add("counter", fmt.Sprint(rep.Head))
				f.add("last hash", rep.LastHash)
				sigs := "not checked (no --public-key)"
				if pub != nil {
					sigs = fmt.Sprintf("%d verified with key %s", rep.SignaturesChecked, cairn.AuditKeyID(pub))
				} else if rep.SignaturesChecked > 0 {
					sigs = fmt.Sprintf("%d verified by the server", rep.SignaturesChecked)
				}
				f.add("checkpoints", fmt.Sprintf("%d matched; signatures %s", rep.Checkpoints, sigs))
				if lc := rep.LastCheckpoint; lc != nil {
					f.add("last checkpoint", fmt.Sprintf("entry %d at %s", lc.Seq, formatTime(lc.Time)))
				}
				if p := rep.Problem; p != nil {
					f.add("first bad entry", fmt.Sprint(p.Seq))
					f.add("problem", p.Reason)
				}
				if err := f.flush(); err != nil {
					return err
				}
			}
			if p := rep.Problem; p != nil {
				return withHint(cairn.Errorf(cairn.EFAILEDPRECONDITION, "the audit log is not intact: entry %d: %s", p.Seq, p.Reason),
					"compare with a backup or an export of the database; see docs/audit.md")
			}
			return nil
		},
	}
	c.Flags().StringVar(&pubPath, "public-key", "", "ed25519 public key file (PEM) to check checkpoint signatures with, here in the CLI")
	return c
}

// checkCheckpointSignatures reads every checkpoint and checks its
// signature with pub, recording the outcome in rep. The server has
// already compared each checkpoint's (seq, hash) with the chain; this makes
// the signatures' check independent of the server.
func (a *app) checkCheckpointSignatures(c *cobra.Command, pub ed25519.PublicKey, rep *cairn.AuditReport) error {
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	rep.SignaturesChecked = 0
	var after int64
	for {
		page, err := cl.ListAuditCheckpoints(c.Context(), after, 1000)
		if err != nil {
			return err
		}
		for _, cp := range page.Items {
			if !cp.Verify(pub) {
				rep.OK = false
				rep.Problem = &cairn.AuditProblem{Seq: cp.Seq, Reason: fmt.Sprintf(
					"the checkpoint's signature does not verify with key %s (it names key %q): forged or altered checkpoint",
					cairn.AuditKeyID(pub), cp.KeyID)}
				return nil
			}
			if cp.Seq <= rep.Head {
				rep.SignaturesChecked++
			}
			after = cp.Seq
		}
		if len(page.Items) < 1000 {
			break
		}
	}
	if rep.SignaturesChecked < rep.Checkpoints {
		rep.OK = false
		rep.Problem = &cairn.AuditProblem{Seq: rep.Head, Reason: fmt.Sprintf(
			"the server matched %d checkpoints against the chain but lists only %d", rep.Checkpoints, rep.SignaturesChecked)}
	}
	return nil
}

func (a *app) auditCheckpointsCommand() *cobra.Command {
	var after int64
	var limit int
	c := &cobra.Command{
		Use:   "checkpoints",
		Short: "List the signed checkpoints of the audit chain",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if after < 0 || limit < 0 {
				return usageErr(c, "--after and --limit must not be negative")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			page, err := cl.ListAuditCheckpoints(c.Context(), after, limit)
			if err != nil {
				return err
			}
			if a.json {
				page.Items = nonNilSlice(page.Items)
				return a.printJSON(page)
			}
			t := newTable(a.stdout(), "SEQ", "TIME", "HASH", "KEY")
			for _, cp := range page.Items {
				t.row(cp.Seq, formatTime(cp.Time), cp.Hash, cp.KeyID)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if limit > 0 && len(page.Items) == limit {
				a.infof("more checkpoints: add --after %d", page.NextAfter)
			}
			return nil
		},
	}
	c.Flags().Int64Var(&after, "after", 0, "only checkpoints with a sequence number above this")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many (default the server's, 100)")
	return c
}

func (a *app) auditKeygenCommand() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Create an ed25519 key pair for signing audit checkpoints",
		Long: `Create an ed25519 key pair: the private key in FILE (mode 0600), for
cairn serve --audit-key FILE, and the public key in FILE.pub, for
cairn audit verify --public-key FILE.pub. Keep the private key on the
servers only, and the public key wherever the log is checked. Existing files
are never overwritten. Runs locally; it needs no server.`,
		Example: `  cairn audit keygen --out /etc/cairn/audit-key`,
		Args:    exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if strings.TrimSpace(out) == "" {
				return usageErr(c, "--out is required: where to write the private key")
			}
			priv, pubPath := a.path(out), a.path(out)+".pub"
			pub, err := writeAuditKeyPair(priv, pubPath)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"private_key": priv, "public_key": pubPath, "key_id": cairn.AuditKeyID(pub)})
			}
			f := newFields(a.stdout())
			f.add("private key", priv)
			f.add("public key", pubPath)
			f.add("key id", cairn.AuditKeyID(pub))
			return f.flush()
		},
	}
	c.Flags().StringVar(&out, "out", "", "file for the private key; the public key goes to FILE.pub")
	return c
}
