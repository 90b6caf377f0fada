package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// Identities: users and service accounts, their API tokens, and the roles
// they hold. Every command goes through the API; on a server with auth on
// most need the admin role (a user may show itself and manage its own
// tokens and password).

func (a *app) usersCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "Manage users and service accounts",
		Long: `Users are people (they may have a password, for HTTP basic auth from MLflow
clients, and API tokens) and service accounts (tokens only). What a user may
do is the roles it holds: see 'cairn roles'. See docs/security.md.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.usersCreateCommand(), a.usersListCommand(), a.usersShowCommand(),
		a.usersUpdateCommand(), a.usersDeleteCommand(), a.whoamiCommand())
	return c
}

// readPassword reads a password from stdin: its first line, without the
// line break, so that `echo … |` and a file both work.
func (a *app) readPassword(c *cobra.Command) (string, error) {
	b, err := readAllLimited(a.env.Stdin, 1025)
	if err != nil {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usageErr(c, "--password-stdin: no password on stdin")
	}
	return line, nil
}

func (a *app) usersCreateCommand() *cobra.Command {
	var (
		service, passwordStdin bool
	)
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user, or a service account with --service",
		Long: `Create a user or, with --service, a service account (tokens only). With
--password-stdin the user's password is read from the first line of stdin:
never pass a password as an argument, where process lists and shell
history would keep it. A new user holds no role; grant some with
'cairn roles grant'.`,
		Example: `  printf '%s\n' "$PASSWORD" | cairn users create alice --password-stdin
  cairn users create ci-bot --service && cairn roles grant ci-bot writer 'fraud-*'`,
		Args: exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			in := client.UserCreate{Name: args[0], Kind: cairn.KindUser}
			if service {
				in.Kind = cairn.KindService
				if passwordStdin {
					return usageErr(c, "service accounts authenticate with tokens: --service and --password-stdin do not mix")
				}
			}
			if passwordStdin {
				p, err := a.readPassword(c)
				if err != nil {
					return err
				}
				in.Password = p
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			u, err := cl.CreateUser(c.Context(), in)
			if err != nil {
				return err
			}
			return a.printUser(u)
		},
	}
	c.Flags().BoolVar(&service, "service", false, "create a service account (tokens only, no password)")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func (a *app) printUser(u *cairn.User) error {
	if a.json {
		return a.printJSON(u)
	}
	f := newFields(a.stdout())
	f.add("name", u.Name)
	f.add("kind", string(u.Kind))
	f.add("password", yesNo(u.HasPassword))
	f.add("disabled", yesNo(u.Disabled))
	f.add("roles", formatRoles(u.Roles))
	f.add("created", formatTime(u.CreatedAt)+" by "+u.CreatedBy)
	return f.flush()
}

func formatRoles(bs []cairn.RoleBinding) string {
	if len(bs) == 0 {
		return "-"
	}
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = string(b.Role) + " on " + b.Scope
	}
	return strings.Join(parts, ", ")
}

func (a *app) usersListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users and service accounts with their roles",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			var all []*cairn.User
			for token := ""; ; {
				p, err := cl.ListUsers(c.Context(), 0, token)
				if err != nil {
					return err
				}
				all = append(all, p.Items...)
				if token = p.NextToken; token == "" {
					break
				}
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(all)})
			}
			t := newTable(a.stdout(), "NAME", "KIND", "PASSWORD", "DISABLED", "ROLES")
			for _, u := range all {
				t.row(u.Name, string(u.Kind), yesNo(u.HasPassword), yesNo(u.Disabled), formatRoles(u.Roles))
			}
			return t.flush()
		},
	}
}

func (a *app) usersShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a user with its roles",
		Args:  exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			u, err := cl.GetUser(c.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printUser(u)
		},
	}
}

func (a *app) usersUpdateCommand() *cobra.Command {
	var passwordStdin, removePassword, disable, enable bool
	c := &cobra.Command{
		Use:   "update NAME",
		Short: "Set or remove a user's password; disable or enable a user",
		Long: `Change a user. --password-stdin sets the password from the first line of
stdin (a user may change its own); --remove-password removes it (tokens
still work); --disable stops every credential of the user at once, and
--enable lets it in again (admin only).`,
		Args: exactArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			var in client.UserUpdate
			switch {
			case passwordStdin && removePassword:
				return usageErr(c, "--password-stdin and --remove-password do not mix")
			case disable && enable:
				return usageErr(c, "--disable and --enable do not mix")
			case passwordStdin:
				p, err := a.readPassword(c)
				if err != nil {
					return err
				}
				in.Password = &p
			case removePassword:
				in.Password = new(string)
			}
			if disable || enable {
				in.Disabled = &disable
			}
			if in.Password == nil && in.Disabled == nil {
				return usageErr(c, "nothing to change: give --password-stdin, --remove-password, --disable or --enable")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			u, err := cl.UpdateUser(c.Context(), args[0], in)
			if err != nil {
				return err
			}
			return a.printUser(u)
		},
	}
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the new password from the first line of stdin")
	c.Flags().BoolVar(&removePassword, "remove-password", false, "remove the password")
	c.Flags().BoolVar(&disable, "disable", false, "refuse every credential of the user")
	c.Flags().BoolVar(&enable, "enable", false, "accept the user's credentials again")
	return c
}

func (a *app) usersDeleteCommand() *cobra.Command {
	return a.deleteCommand("delete NAME", "Delete a user with its tokens and roles",
		func(ctx context.Context, cl *client.Client, name string) error { return cl.DeleteUser(ctx, name) },
		"deleted user %s with its tokens and roles")
}

func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server takes you for, with your roles",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			id, err := cl.WhoAmI(c.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(id)
			}
			f := newFields(a.stdout())
			f.add("name", id.Name)
			f.add("verified", yesNo(id.Verified))
			if id.Auth {
				f.add("kind", string(id.Kind))
				f.add("roles", formatRoles(id.Roles))
			} else {
				f.add("auth", "off: every caller may do everything")
			}
			return f.flush()
		},
	}
}

func (a *app) tokensCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Create, list and revoke API tokens",
		Long: `API tokens authenticate CLI, SDK and MLflow clients (CAIRN_TOKEN,
MLFLOW_TRACKING_TOKEN, or as the password of HTTP basic auth). The server
keeps only a SHA-256 of each token: its secret is printed once, when it is
created. Tokens are your own unless --owner names another user (admin).`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.tokensCreateCommand(), a.tokensListCommand(), a.tokensRevokeCommand())
	return c
}

// tokenOwner is --owner, else the caller.
func (a *app) tokenOwner(c *cobra.Command, cl *client.Client, owner string) (string, error) {
	if owner != "" {
		return owner, nil
	}
	id, err := cl.WhoAmI(c.Context())
	if err != nil {
		return "", err
	}
	if !id.Auth {
		return "", usageErr(c, "the server runs without auth, so there is no you to own a token: pass --owner USER")
	}
	return id.Name, nil
}

func (a *app) tokensCreateCommand() *cobra.Command {
	var owner, name, expires string
	c := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print its secret, once",
		Long: `Create an API token and print its secret on stdout. The server cannot show
it again: store it now (a secret manager, CAIRN_TOKEN). --expires-in gives
it a lifetime (720h); without it the token lives until revoked.`,
		Example: `  cairn tokens create --name laptop --expires-in 720h
  cairn tokens create --owner ci-bot --name github-actions`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			user, err := a.tokenOwner(c, cl, owner)
			if err != nil {
				return err
			}
			tk, err := cl.CreateToken(c.Context(), user, client.TokenCreate{Name: name, ExpiresIn: expires})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(tk)
			}
			if _, err := fmt.Fprintln(a.stdout(), tk.Secret); err != nil {
				return err
			}
			msg := "token " + tk.ID + " for " + tk.User
			if tk.ExpiresAt != nil {
				msg += ", expires " + formatTime(*tk.ExpiresAt)
			}
			a.infof("%s; this is the only time its secret is shown", msg)
			return nil
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "the user the token is for (default: you)")
	c.Flags().StringVar(&name, "name", "", "a name to tell the token by")
	c.Flags().StringVar(&expires, "expires-in", "", "lifetime, such as 720h (default: until revoked)")
	return c
}

func (a *app) tokensListCommand() *cobra.Command {
	var owner string
	c := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			user, err := a.tokenOwner(c, cl, owner)
			if err != nil {
				return err
			}
			ts, err := cl.ListTokens(c.Context(), user)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(ts)})
			}
			t := newTable(a.stdout(), "ID", "NAME", "CREATED", "EXPIRES", "LAST USED", "REVOKED")
			for _, tk := range ts {
				t.row(tk.ID, tk.Name, formatTime(tk.CreatedAt), optTime(tk.ExpiresAt), optTime(tk.LastUsedAt), optTime(tk.RevokedAt))
			}
			return t.flush()
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "whose tokens (default: yours)")
	return c
}

func (a *app) tokensRevokeCommand() *cobra.Command {
	var owner string
	c := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token at once",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			user, err := a.tokenOwner(c, cl, owner)
			if err != nil {
				return err
			}
			if err := cl.RevokeToken(c.Context(), user, args[0]); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"revoked": args[0], "user": user})
			}
			a.infof("revoked token %s of %s", args[0], user)
			return nil
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "whose token (default: yours)")
	return c
}

// optTime formats an optional time, "-" if unset.
func optTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func (a *app) rolesCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "roles",
		Aliases: []string{"role"},
		Short:   "Grant, revoke and list roles",
		Long: `A role is bound to a principal on a scope: * (every model) or a model-name
glob in which * matches any run of characters (fraud-*, *-prod).

  reader      read models, versions, aliases, lineage; resolve and pull
  writer      + create models and versions, change descriptions and tags,
              upload, log runs
  maintainer  + move aliases and stages, archive, restore, delete, rename
  admin       + users, tokens, roles, garbage collection, webhooks
  approver    reader, and approve or reject approval requests (cairn approvals)

Lists and searches show only the models the caller may read.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.rolesGrantCommand(), a.rolesRevokeCommand(), a.rolesListCommand())
	return c
}

func roleGrantArgs(c *cobra.Command, args []string) (client.RoleGrant, error) {
	g := client.RoleGrant{Principal: args[0], Role: cairn.Role(args[1]), Scope: cairn.ScopeAll}
	if len(args) == 3 {
		g.Scope = args[2]
	}
	if _, err := cairn.ParseRole(args[1]); err != nil {
		return g, asUsage(c, err)
	}
	if err := cairn.ValidateScope(g.Scope); err != nil {
		return g, asUsage(c, err)
	}
	return g, nil
}

func (a *app) rolesGrantCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "grant PRINCIPAL ROLE [SCOPE]",
		Short:   "Grant a role on a scope (default *)",
		Example: "  cairn roles grant alice maintainer 'fraud-*'\n  cairn roles grant ci-bot writer",
		Args:    rangeArgs(2, "PRINCIPAL", "ROLE", "SCOPE"),
		RunE: func(c *cobra.Command, args []string) error {
			g, err := roleGrantArgs(c, args)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			b, err := cl.GrantRole(c.Context(), g)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(b)
			}
			a.infof("granted %s on %s to %s", b.Role, b.Scope, b.Principal)
			return nil
		},
	}
}

func (a *app) rolesRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke PRINCIPAL ROLE [SCOPE]",
		Short: "Revoke a role binding (scope default *)",
		Args:  rangeArgs(2, "PRINCIPAL", "ROLE", "SCOPE"),
		RunE: func(c *cobra.Command, args []string) error {
			g, err := roleGrantArgs(c, args)
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			if err := cl.RevokeRole(c.Context(), g); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(g)
			}
			a.infof("revoked %s on %s from %s", g.Role, g.Scope, g.Principal)
			return nil
		},
	}
}

func (a *app) rolesListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list [PRINCIPAL]",
		Short: "List role bindings, everyone's or one principal's",
		Args:  rangeArgs(0, "PRINCIPAL"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			who := ""
			if len(args) == 1 {
				who = args[0]
			}
			bs, err := cl.ListRoles(c.Context(), who)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(bs)})
			}
			t := newTable(a.stdout(), "PRINCIPAL", "ROLE", "SCOPE", "GRANTED")
			for _, b := range bs {
				t.row(b.Principal, string(b.Role), b.Scope, formatTime(b.CreatedAt)+" by "+b.CreatedBy)
			}
			return t.flush()
		},
	}
}
