package cli

import (
	"fmt"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

func (a *app) approvalsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "approvals",
		Aliases: []string{"approval"},
		Short:   "Approval requests for protected aliases and stages: list, show, approve, reject",
		Long: `Moving an alias (or an MLflow stage) that a policy protects opens an approval
request instead (exit code 6). The request applies itself once enough
approvers other than the requester approve it; a rejection ends it, and so
does its expiry or a change of the version's evidence. See
docs/governance.md.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.approvalsListCommand(), a.approvalsShowCommand(), a.approvalsDecideCommand(true), a.approvalsDecideCommand(false))
	return c
}

func (a *app) approvalsListCommand() *cobra.Command {
	var in client.ApprovalList
	var all bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List approval requests, newest first (pending ones unless --status or --all)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if in.Status == "" && !all {
				in.Status = cairn.RequestPending
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			page, err := cl.ListApprovals(c.Context(), in)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(page)
			}
			t := newTable(a.stdout(), "ID", "MOVE", "VERSION", "STATUS", "APPROVALS", "REQUESTED BY", "EXPIRES")
			for _, r := range page.Items {
				t.row(r.ID, r.Target(), requestTo(r), r.Status, fmt.Sprintf("%d/%d", len(r.Approvals), r.Required), r.RequestedBy, formatTime(r.ExpiresAt))
			}
			return t.flush()
		},
	}
	c.Flags().StringVar(&in.Status, "status", "", "pending, applied, rejected, expired or invalidated")
	c.Flags().BoolVar(&all, "all", false, "every status")
	c.Flags().StringVar(&in.Model, "model", "", "only requests on this model")
	c.Flags().IntVar(&in.PageSize, "page-size", 0, "requests per page")
	c.Flags().StringVar(&in.PageToken, "page-token", "", "next_page_token of the previous page")
	return c
}

func (a *app) approvalsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an approval request with its approvals and rejection",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			r, err := cl.GetApproval(c.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(r)
			}
			return a.printApproval(r)
		},
	}
}

func (a *app) approvalsDecideCommand(approve bool) *cobra.Command {
	var comment string
	verb, short := "reject", "Reject a pending request (approver, not the requester)"
	if approve {
		verb, short = "approve", "Approve a pending request (approver, not the requester); it applies itself once approved enough"
	}
	c := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			decide := cl.Reject
			if approve {
				decide = cl.Approve
			}
			r, err := decide(c.Context(), args[0], client.Decision{Comment: comment})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(r)
			}
			switch r.Status {
			case cairn.RequestApplied:
				switch {
				case r.Version == 0:
					a.infof("approved; %s is deleted", r.Target())
				case r.LeavesStage() && r.FromStage == r.Stage:
					a.infof("approved; the versions in %s other than v%d are archived", r.Target(), r.Version)
				case r.LeavesStage():
					a.infof("approved; v%d left %s for %s", r.Version, r.Target(), r.Stage)
				default:
					a.infof("approved; %s now points at v%d", r.Target(), r.Version)
				}
			case cairn.RequestPending:
				a.infof("approved; %d of %d approvals", len(r.Approvals), r.Required)
			default:
				a.infof("request %s is %s", r.ID, r.Status)
			}
			return a.printApproval(r)
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "why")
	return c
}

func (a *app) printApproval(r *cairn.ApprovalRequest) error {
	f := newFields(a.stdout())
	f.add("request", r.ID)
	f.add("move", fmt.Sprintf("%s → %s", r.Target(), requestTo(r)))
	if r.FromVersion != 0 {
		f.add("from", fmt.Sprintf("v%d", r.FromVersion))
	}
	f.add("status", r.Status)
	f.add("message", r.StatusMessage)
	f.add("requested", formatTime(r.CreatedAt)+" by "+r.RequestedBy)
	f.add("expires", formatTime(r.ExpiresAt))
	f.add("policies", strings.Join(r.Policies, ", "))
	f.add("approvals", fmt.Sprintf("%d of %d", len(r.Approvals), r.Required))
	for _, d := range r.Approvals {
		f.add("  approved by", decisionLine(d))
	}
	if r.Rejection != nil {
		f.add("rejected by", decisionLine(*r.Rejection))
	}
	return f.flush()
}

func decisionLine(d cairn.ApprovalDecision) string {
	s := d.Actor + " at " + formatTime(d.At)
	if d.Comment != "" {
		s += ": " + d.Comment
	}
	return s
}

func (a *app) policyExplainCommand() *cobra.Command {
	var stage bool
	return &cobra.Command{
		Use:   "explain REF ALIAS",
		Short: "Dry-run the gate on moving a protected alias (or, with --stage, a stage) to a version",
		Long: `Evaluate the gate that policies put on moving ALIAS to the version REF names,
without moving anything: each clause (approvals, conditions) and whether it
passes. With --stage, ALIAS is an MLflow stage (Production).`,
		Args: exactArgs("REF", "ALIAS"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			alias, st := args[1], ""
			if stage {
				alias, st = "", args[1]
			}
			ex, err := cl.ExplainGate(c.Context(), args[0], alias, st)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(ex)
			}
			if !ex.Protected {
				fmt.Fprintf(a.stdout(), "%s is not protected: moving it to %s needs no approval\n", ex.Target, ex.Version)
				return nil
			}
			fmt.Fprintf(a.stdout(), "%s → %s, gated by %s\n", ex.Target, ex.Version, strings.Join(ex.Policies, ", "))
			t := newTable(a.stdout(), "CLAUSE", "POLICY", "RESULT", "DETAIL")
			for _, cl := range ex.Clauses {
				res := "fail"
				if cl.Pass {
					res = "pass"
				}
				detail := cl.Expr
				if cl.Detail != "" {
					detail = strings.TrimSpace(detail + " " + cl.Detail)
				}
				t.row(cl.Name, cl.Policy, res, detail)
			}
			return t.flush()
		},
	}
}

// requestTo is where a request moves its alias or stage: vN, or "deleted"
// for a request to delete a protected alias (version 0).
func requestTo(r *cairn.ApprovalRequest) string {
	switch {
	case r.Version == 0:
		return "deleted"
	case r.LeavesStage() && r.FromStage == r.Stage:
		return fmt.Sprintf("others archived, v%d stays", r.Version)
	case r.LeavesStage():
		return fmt.Sprintf("v%d leaves, to %s", r.Version, r.Stage)
	}
	return fmt.Sprintf("v%d", r.Version)
}
