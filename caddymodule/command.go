package caddymodule

import (
	"net/url"

	"encoding/json"
	"errors"
	"fmt"
	"github.com/idgate/idgate/internal/reqpath"
	"io"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/idgate/idgate/policy"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "idgate",
		Usage: "explain --path <path> | lint  [--config <file> [--adapter <name>] | --policies <dir>]",
		Short: "Explains which idgate policy governs a path, and lints policy files",
		Long: `
idgate explain --path /adult/board
    Says which policy governs the path (after cleaning), through which pattern, and what it
    requires and forwards.

idgate lint
    Reports patterns that can never win (shadowed), policies none of whose paths can govern a
    request (unreachable), and more specific paths that relax a broader policy. Exits non-zero
    when it finds errors.

The policy directory comes from --policies, or from the idgate app of the configuration given
with --config (Caddyfile or JSON, as for caddy run).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
			cmd.Flags().String("policies", "", "Policy directory (instead of --config)")
			cmd.Flags().String("path", "", "Request path to explain")
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = runIdgateCommand
		},
	})
}

func runIdgateCommand(cmd *cobra.Command, args []string) error {
	dir, _ := cmd.Flags().GetString("policies")
	if dir == "" {
		config, _ := cmd.Flags().GetString("config")
		adapter, _ := cmd.Flags().GetString("adapter")
		cfg, _, _, err := caddycmd.LoadConfig(config, adapter)
		if err != nil {
			return err
		}
		var parsed struct {
			Apps struct {
				Idgate App `json:"idgate"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(cfg, &parsed); err != nil {
			return fmt.Errorf("reading the idgate app: %w", err)
		}
		dir = parsed.Apps.Idgate.Policies
		if dir == "" {
			return errors.New("the configuration has no idgate policies directory; use --policies")
		}
	}
	set, err := policy.LoadDir(dir)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch args[0] {
	case "explain":
		p, _ := cmd.Flags().GetString("path")
		if p == "" {
			return errors.New("explain needs --path")
		}
		return explain(out, set, p)
	case "lint":
		return lint(out, set)
	}
	return fmt.Errorf("unknown idgate subcommand %q (explain, lint)", args[0])
}

func explain(out io.Writer, set *policy.Set, path string) error {
	// The same rule the gate applies first: a non-canonical path never reaches matching.
	if u, err := url.ParseRequestURI(path); err != nil {
		fmt.Fprintf(out, "path %s is not a request target: refused before idgate (400)\n", path)
		return nil
	} else if err := reqpath.Check(u.EscapedPath()); err != nil {
		e := err.(*reqpath.Error)
		fmt.Fprintf(out, "path %s is refused with %s (%s)", path, e.Reason, e.What)
		if c, err := reqpath.Rewrite(u.Path); err == nil && e.Reason == reqpath.ReasonNotCanonical && reqpath.Check((&url.URL{Path: c}).EscapedPath()) == nil {
			fmt.Fprintf(out, "; with noncanonical_paths rewrite it becomes %s:\n", c)
			path = c
		} else {
			fmt.Fprintln(out, ", in either noncanonical_paths mode")
			return nil
		}
	}
	e := set.Explain(path)
	fmt.Fprintf(out, "path %s (matched as %s)\n", path, e.Path)
	if e.Policy == nil {
		fmt.Fprintln(out, "no policy covers it: a gated route refuses it with 403 (no_policy)")
		return nil
	}
	fmt.Fprintf(out, "policy %s (%s), by %s pattern %q\n", e.Policy.Name, e.Policy.File, e.Kind, e.Pattern)
	fmt.Fprint(out, e.Policy.Describe())
	return nil
}

func lint(out io.Writer, set *policy.Set) error {
	findings := set.Lint()
	errs := 0
	for _, f := range findings {
		fmt.Fprintln(out, f.String())
		if f.Severity == "error" {
			errs++
		}
	}
	fmt.Fprintf(out, "%d policies, %d errors, %d warnings\n", len(set.Policies()), errs, len(findings)-errs)
	if errs > 0 {
		return fmt.Errorf("%d lint errors", errs)
	}
	return nil
}
