package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/cel"
	"github.com/cairn-registry/cairn/internal/jsonschema"
)

// Policies. A policy is a declarative document (cairn.PolicySpec) that
// governs the models under its scope: the names new models may take, the
// metadata a version must carry (a JSON Schema over the version record),
// the aliases and stages whose moves pass a gate (approvals and CEL
// conditions, see approvals.go), deletion rules, and monitoring signal
// thresholds. Every write makes a new version of the policy, audited and
// evented (policy.changed); old versions stay readable.
//
// Reading policies needs the reader role on some scope; writing them needs
// admin on "*" (a policy can govern any model).

// PolicyCreate is the input of CreatePolicy: a name and the document.
type PolicyCreate struct {
	Name string `json:"name"`
	cairn.PolicySpec
}

// policyTarget is the audit target of a policy.
func policyTarget(name string) string { return "policy:" + name }

// compiledPolicy is a policy with its schema, name pattern and gate
// conditions compiled, cached per policy version.
type compiledPolicy struct {
	*cairn.Policy
	schema  *jsonschema.Schema
	pattern *regexp.Regexp
	// conds holds each gate's compiled conditions, keyed by Gate.Target.
	conds map[string][]*cel.Program
}

// policyCache holds compiled policies by name and version. Versions never
// change once written, so entries never go stale; the cache only bounds
// its size.
type policyCache struct {
	once    sync.Once
	env     *cel.Env
	envErr  error
	mu      sync.Mutex
	entries map[string]*compiledPolicy
}

const policyCacheSize = 1024

func (c *policyCache) celEnv() (*cel.Env, error) {
	c.once.Do(func() { c.env, c.envErr = cel.NewEnv() })
	return c.env, c.envErr
}

// compile returns the compiled form of p, from the cache if it is there.
func (s *Service) compilePolicy(p *cairn.Policy) (*compiledPolicy, error) {
	key := fmt.Sprintf("%s@%d", p.Name, p.Version)
	c := &s.policies
	c.mu.Lock()
	cp, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return cp, nil
	}
	cp, err := s.compileSpec(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= policyCacheSize {
		c.entries = map[string]*compiledPolicy{}
	}
	c.entries[key] = cp
	c.mu.Unlock()
	return cp, nil
}

// compileSpec validates and compiles a policy document. EINVALID naming
// the member at fault.
func (s *Service) compileSpec(p *cairn.Policy) (*compiledPolicy, error) {
	if err := p.PolicySpec.Validate(); err != nil {
		return nil, err
	}
	cp := &compiledPolicy{Policy: p, conds: map[string][]*cel.Program{}}
	if p.NamePattern != nil {
		re, err := p.NamePattern.Compile()
		if err != nil {
			return nil, err
		}
		cp.pattern = re
	}
	if len(p.RequiredMetadata) > 0 {
		sch, err := jsonschema.Compile(p.RequiredMetadata)
		if err != nil {
			return nil, err
		}
		cp.schema = sch
	}
	env, err := s.policies.celEnv()
	if err != nil {
		return nil, err
	}
	for _, gates := range [][]cairn.Gate{p.ProtectedAliases, p.ProtectedStages} {
		for _, g := range gates {
			for _, c := range g.Conditions {
				prg, err := env.Compile(c.Expr)
				if err != nil {
					return nil, cairn.WrapError(cairn.EINVALID, err, "%s, condition %q", g.Target(), c.Name)
				}
				cp.conds[g.Target()] = append(cp.conds[g.Target()], prg)
			}
		}
	}
	return cp, nil
}

// policiesFor returns the live policies whose scope covers model,
// compiled, by name.
func (s *Service) policiesFor(ctx context.Context, r cairn.Reader, model string) ([]*compiledPolicy, error) {
	ps, err := r.ListPolicies(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []*compiledPolicy
	for _, p := range ps {
		if !p.Applies(model) {
			continue
		}
		cp, err := s.compilePolicy(p)
		if err != nil {
			// A stored policy was valid when written; failing to compile
			// it now (a newer, stricter server) must not open the gate.
			return nil, fmt.Errorf("policy %s version %d no longer compiles: %w", p.Name, p.Version, err)
		}
		out = append(out, cp)
	}
	return out, nil
}

// CreatePolicy writes version 1 of a new policy (or the next version of a
// deleted one, which it brings back). EINVALID for a bad name or document,
// ECONFLICT if a live policy has the name.
func (s *Service) CreatePolicy(ctx context.Context, in PolicyCreate) (*cairn.Policy, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if err := cairn.ValidatePolicyName(in.Name); err != nil {
		return nil, err
	}
	p := &cairn.Policy{Name: in.Name, PolicySpec: in.PolicySpec}
	if _, err := s.compileSpec(p); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(m *mutation) error {
		cur, err := m.tx.GetPolicy(ctx, in.Name)
		switch {
		case err == nil && cur.DeletedAt == nil:
			return cairn.Errorf(cairn.ECONFLICT, "policy %q already exists; change it with update", in.Name)
		case err == nil:
			p.Version = cur.Version + 1
		case cairn.IsCode(err, cairn.ENOTFOUND):
			p.Version = 1
		default:
			return err
		}
		return s.putPolicy(ctx, m, nil, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Service) putPolicy(ctx context.Context, m *mutation, before, p *cairn.Policy) error {
	p.CreatedBy, p.CreatedAt, p.DeletedAt = m.actor.Name, m.now, nil
	if err := m.tx.PutPolicy(ctx, p); err != nil {
		if cairn.IsCode(err, cairn.ECONFLICT) {
			return cairn.Errorf(cairn.ECONFLICT, "policy %q was changed by someone else at the same time; read it again and retry", p.Name)
		}
		return err
	}
	var b any
	if before != nil {
		b = before
	}
	m.record(cairn.EventPolicyChanged, policyTarget(p.Name), "", "", b, p)
	return nil
}

// GetPolicy returns a policy at its current version, or at version if it
// is not 0 (old versions of deleted policies too). ENOTFOUND.
func (s *Service) GetPolicy(ctx context.Context, name string, version int64) (*cairn.Policy, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if err := cairn.ValidatePolicyName(name); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid policy version %d", version)
	}
	if version > 0 {
		return s.store.GetPolicyVersion(ctx, name, version)
	}
	p, err := s.store.GetPolicy(ctx, name)
	if err != nil {
		return nil, err
	}
	if p.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %q not found (it was deleted; its versions are still readable)", name)
	}
	return p, nil
}

// ListPolicies lists the policies at their current versions, by name;
// deleted ones too with includeDeleted.
func (s *Service) ListPolicies(ctx context.Context, includeDeleted bool) ([]*cairn.Policy, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	return s.store.ListPolicies(ctx, includeDeleted)
}

// ListPolicyVersions lists every version of a policy, newest first.
func (s *Service) ListPolicyVersions(ctx context.Context, name string) ([]*cairn.Policy, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if err := cairn.ValidatePolicyName(name); err != nil {
		return nil, err
	}
	return s.store.ListPolicyVersions(ctx, name)
}

// UpdatePolicy replaces a policy's document, writing its next version. A
// document equal to the current one writes nothing and returns the
// current version. ENOTFOUND if there is no live policy of that name.
func (s *Service) UpdatePolicy(ctx context.Context, name string, spec cairn.PolicySpec) (*cairn.Policy, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	if err := cairn.ValidatePolicyName(name); err != nil {
		return nil, err
	}
	p := &cairn.Policy{Name: name, PolicySpec: spec}
	if _, err := s.compileSpec(p); err != nil {
		return nil, err
	}
	var out *cairn.Policy
	err := s.update(ctx, func(m *mutation) error {
		cur, err := m.tx.GetPolicy(ctx, name)
		if err == nil && cur.DeletedAt != nil {
			err = cairn.Errorf(cairn.ENOTFOUND, "policy %q not found (it was deleted; create it again)", name)
		}
		if err != nil {
			return err
		}
		if sameSpec(&cur.PolicySpec, &p.PolicySpec) {
			out = cur
			return nil
		}
		p.Version = cur.Version + 1
		out = p
		return s.putPolicy(ctx, m, cur, p)
	})
	return out, err
}

// sameSpec compares two documents by their JSON form, so that a schema
// that differs only in spacing is the same.
func sameSpec(a, b *cairn.PolicySpec) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// DeletePolicy deletes a policy: it stops applying at once; its versions
// stay readable. ENOTFOUND if there is no live policy of that name.
func (s *Service) DeletePolicy(ctx context.Context, name string) error {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return err
	}
	if err := cairn.ValidatePolicyName(name); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		cur, err := m.tx.GetPolicy(ctx, name)
		if err == nil && cur.DeletedAt != nil {
			err = cairn.Errorf(cairn.ENOTFOUND, "policy %q not found (it was deleted already)", name)
		}
		if err != nil {
			return err
		}
		if err := m.tx.DeletePolicy(ctx, name, m.now); err != nil {
			return err
		}
		m.record(cairn.EventPolicyChanged, policyTarget(name), "", "", cur, nil)
		return nil
	})
}

// SignalThreshold returns the threshold a policy sets for a monitoring
// signal kind ("drift", "error_rate") on a model, and whether one is set.
// When several policies that apply to the model set one, the most
// specific scope wins (an exact name, then the longest glob, then "*";
// ties by policy name). It needs the reader role on the model.
func (s *Service) SignalThreshold(ctx context.Context, model, kind string) (float64, bool, error) {
	if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
		return 0, false, err
	}
	if err := cairn.ValidateModelName(model); err != nil {
		return 0, false, err
	}
	return s.policyThreshold(ctx, s.store, model, kind)
}

// policyThreshold is SignalThreshold without the role check, on r (a
// transaction's reader when a signal is being recorded).
func (s *Service) policyThreshold(ctx context.Context, r cairn.Reader, model, kind string) (float64, bool, error) {
	ps, err := r.ListPolicies(ctx, false)
	if err != nil {
		return 0, false, err
	}
	cairn.SortPoliciesBySpecificity(ps)
	for _, p := range ps {
		if !p.Applies(model) {
			continue
		}
		if v, ok := p.Signals[kind]; ok {
			return v, true, nil
		}
	}
	return 0, false, nil
}

// checkModelName refuses a new model name that a policy's name pattern
// does not allow.
func (s *Service) checkModelName(ctx context.Context, r cairn.Reader, name string) error {
	ps, err := s.policiesFor(ctx, r, name)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.pattern == nil || p.pattern.MatchString(name) {
			continue
		}
		msg := fmt.Sprintf("model name %q does not match the pattern %s of policy %s", name, p.NamePattern.Regex, p.Name)
		if p.NamePattern.Description != "" {
			msg += " (" + p.NamePattern.Description + ")"
		}
		if p.NamePattern.Example != "" {
			msg += fmt.Sprintf("; for example %q", p.NamePattern.Example)
		}
		return cairn.Errorf(cairn.EINVALID, "%s", msg)
	}
	return nil
}

// checkRequiredMetadata checks a new version's record against the
// required metadata of every policy that applies to its model. EINVALID
// listing each violation.
func (s *Service) checkRequiredMetadata(ctx context.Context, r cairn.Reader, v *cairn.Version) error {
	ps, err := s.policiesFor(ctx, r, v.Model)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.schema == nil {
			continue
		}
		problems, err := p.schema.ValidateAny(v)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return cairn.Errorf(cairn.EINVALID, "version record does not carry the metadata policy %s requires: %s", p.Name, strings.Join(problems, "; "))
		}
	}
	return nil
}
