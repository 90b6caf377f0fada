package registry

import (
	"context"
	"maps"
	"strings"

	"github.com/cairn-registry/cairn"
)

// ModelCreate is the input of CreateModel.
type ModelCreate struct {
	Name        string            `json:"name"`
	Kind        cairn.Kind        `json:"kind,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// CreateModel registers a new model. It returns EINVALID for a bad name,
// kind, tag or description and ECONFLICT if the name is taken.
func (s *Service) CreateModel(ctx context.Context, in ModelCreate) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, in.Name); err != nil {
		return nil, err
	}
	var out *cairn.Model
	err := s.update(ctx, func(m *mutation) error {
		var err error
		out, err = s.createModel(ctx, m, in)
		return err
	})
	return out, err
}

func (s *Service) createModel(ctx context.Context, m *mutation, in ModelCreate) (*cairn.Model, error) {
	if err := cairn.ValidateModelName(in.Name); err != nil {
		return nil, err
	}
	kind, err := cairn.ParseKind(string(in.Kind))
	if err != nil {
		return nil, err
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	if err := cairn.ValidateDescription(in.Description); err != nil {
		return nil, err
	}
	if err := s.checkModelName(ctx, m.tx, in.Name); err != nil {
		return nil, err
	}
	model := &cairn.Model{
		Name: in.Name, Kind: kind, Description: in.Description, Tags: nonNil(in.Tags),
		Aliases: map[string]int64{}, CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now,
	}
	if err := m.tx.CreateModel(ctx, model); err != nil {
		if cairn.IsCode(err, cairn.ECONFLICT) {
			return nil, cairn.Errorf(cairn.ECONFLICT, "model %q already exists", in.Name)
		}
		return nil, err
	}
	m.record(cairn.EventModelCreated, model.Name, model.Name, "", nil, model)
	return model, nil
}

// GetModel returns a model. Deleted models are ENOTFOUND.
func (s *Service) GetModel(ctx context.Context, name string) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleReader, name); err != nil {
		return nil, err
	}
	return getModel(ctx, s.store, name)
}

func getModel(ctx context.Context, r cairn.Reader, name string) (*cairn.Model, error) {
	if err := cairn.ValidateModelName(name); err != nil {
		return nil, err
	}
	m, err := r.GetModel(ctx, name)
	if err != nil {
		return nil, notFound(err, "model %q not found", name)
	}
	if m.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found (it was deleted)", name)
	}
	return m, nil
}

// lockModel locks and returns a live model inside a mutation.
func lockModel(ctx context.Context, m *mutation, name string) (*cairn.Model, error) {
	if err := cairn.ValidateModelName(name); err != nil {
		return nil, err
	}
	model, err := m.tx.LockModel(ctx, name)
	if err != nil {
		return nil, notFound(err, "model %q not found", name)
	}
	if model.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found (it was deleted)", name)
	}
	return model, nil
}

// ListRequest is a list call's filter, ordering and page.
type ListRequest struct {
	Filter    string   `json:"filter,omitempty"`
	OrderBy   []string `json:"order_by,omitempty"` // "field", "field ASC" or "field DESC"
	PageSize  int      `json:"page_size,omitempty"`
	PageToken string   `json:"page_token,omitempty"`
	// Latest asks ListModels for the page's latest versions too (see
	// cairn.ModelQuery.Latest).
	Latest bool `json:"-"`
}

func (r ListRequest) parse() (*cairn.Filter, []cairn.OrderBy, cairn.Page, error) {
	f, err := cairn.ParseFilter(r.Filter)
	if err != nil {
		return nil, nil, cairn.Page{}, err
	}
	order, err := ParseOrderBy(r.OrderBy)
	if err != nil {
		return nil, nil, cairn.Page{}, err
	}
	page, err := checkPage(r.PageSize, r.PageToken)
	return f, order, page, err
}

// ParseOrderBy parses "field", "field ASC" and "field DESC" clauses.
// Whether the field may be sorted on is decided by the store's compiler.
func ParseOrderBy(clauses []string) ([]cairn.OrderBy, error) {
	var out []cairn.OrderBy
	for _, c := range clauses {
		for _, part := range strings.Split(c, ",") {
			fields := strings.Fields(part)
			switch {
			case len(fields) == 0:
				continue
			case len(fields) == 1:
				out = append(out, cairn.OrderBy{Field: fields[0]})
			case len(fields) == 2 && strings.EqualFold(fields[1], "asc"):
				out = append(out, cairn.OrderBy{Field: fields[0]})
			case len(fields) == 2 && strings.EqualFold(fields[1], "desc"):
				out = append(out, cairn.OrderBy{Field: fields[0], Desc: true})
			default:
				return nil, cairn.Errorf(cairn.EINVALID, "invalid order_by %q: want \"field\", \"field ASC\" or \"field DESC\"", part)
			}
		}
	}
	if len(out) > 5 {
		return nil, cairn.Errorf(cairn.EINVALID, "at most 5 order_by fields")
	}
	return out, nil
}

// MaxPageSize is the largest page a list returns.
const MaxPageSize = 1000

func checkPage(size int, token string) (cairn.Page, error) {
	if size < 0 || size > MaxPageSize {
		return cairn.Page{}, cairn.Errorf(cairn.EINVALID, "page_size must be between 1 and %d", MaxPageSize)
	}
	if len(token) > 1024 {
		return cairn.Page{}, cairn.Errorf(cairn.EINVALID, "invalid page_token")
	}
	return cairn.Page{Size: size, Token: token}, nil
}

// ListModels lists live models matching the request's filter.
func (s *Service) ListModels(ctx context.Context, req ListRequest) (*cairn.ModelPage, error) {
	f, order, page, err := req.parse()
	if err != nil {
		return nil, err
	}
	scopes, err := s.readScopes(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.ListModels(ctx, cairn.ModelQuery{Filter: f, OrderBy: order, Page: page, Scopes: scopes, Latest: req.Latest})
}

// ModelUpdate changes a model's mutable fields. Nil fields stay as they are.
type ModelUpdate struct {
	Description *string           `json:"description,omitempty"`
	SetTags     map[string]string `json:"set_tags,omitempty"`
	DeleteTags  []string          `json:"delete_tags,omitempty"`
}

// UpdateModel changes a model's description and tags.
func (s *Service) UpdateModel(ctx context.Context, name string, in ModelUpdate) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, name); err != nil {
		return nil, err
	}
	var out *cairn.Model
	err := s.update(ctx, func(m *mutation) error {
		model, err := lockModel(ctx, m, name)
		if err != nil {
			return err
		}
		before := cloneModel(model)
		changed, err := applyUpdate(&model.Description, model.Tags, in.Description, in.SetTags, in.DeleteTags)
		if err != nil || !changed {
			out = model
			return err
		}
		model.UpdatedAt = m.now
		if err := m.tx.UpdateModel(ctx, model); err != nil {
			return err
		}
		recordTagChanges(m, name, name, before.Tags, model.Tags)
		m.record(cairn.EventModelUpdated, name, name, "", before, model)
		out = model
		return nil
	})
	return out, err
}

// applyUpdate applies a description and tag change to desc and tags in
// place, validating every value, and reports whether anything changed.
func applyUpdate(desc *string, tags map[string]string, newDesc *string, set map[string]string, del []string) (bool, error) {
	if newDesc != nil {
		if err := cairn.ValidateDescription(*newDesc); err != nil {
			return false, err
		}
	}
	for k, v := range set {
		if err := cairn.ValidateTag(k, v); err != nil {
			return false, err
		}
	}
	changed := false
	if newDesc != nil && *newDesc != *desc {
		*desc = *newDesc
		changed = true
	}
	for _, k := range del {
		if _, ok := tags[k]; ok {
			delete(tags, k)
			changed = true
		}
	}
	for k, v := range set {
		if old, ok := tags[k]; !ok || old != v {
			tags[k] = v
			changed = true
		}
	}
	if len(tags) > cairn.MaxTags {
		return false, cairn.Errorf(cairn.EINVALID, "a record may have at most %d tags", cairn.MaxTags)
	}
	return changed, nil
}

// recordTagChanges records tag.set and tag.deleted events for the
// difference between two tag maps.
func recordTagChanges(m *mutation, target, model string, before, after map[string]string) {
	type tagState struct {
		Target string `json:"target"`
		Key    string `json:"key"`
		Value  string `json:"value,omitempty"`
	}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			var prev any
			if ok {
				prev = tagState{target, k, old}
			}
			m.record(cairn.EventTagSet, target, model, "", prev, tagState{target, k, v})
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			m.record(cairn.EventTagDeleted, target, model, "", tagState{target, k, v}, nil)
		}
	}
}

// RenameModel renames a model, keeping every version, alias and history
// entry. ECONFLICT if the new name is taken.
func (s *Service) RenameModel(ctx context.Context, name, newName string) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, name); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleMaintainer, newName); err != nil {
		return nil, err
	}
	if err := cairn.ValidateModelName(newName); err != nil {
		return nil, err
	}
	var out *cairn.Model
	err := s.update(ctx, func(m *mutation) error {
		model, err := lockModel(ctx, m, name)
		if err != nil {
			return err
		}
		if newName == name {
			out = model
			return nil
		}
		if err := s.checkModelName(ctx, m.tx, newName); err != nil {
			return err
		}
		before := cloneModel(model)
		if err := m.tx.RenameModel(ctx, name, newName, m.now); err != nil {
			if cairn.IsCode(err, cairn.ECONFLICT) {
				return cairn.Errorf(cairn.ECONFLICT, "cannot rename %q: a model named %q already exists", name, newName)
			}
			return err
		}
		model.Name, model.UpdatedAt = newName, m.now
		m.record(cairn.EventModelRenamed, newName, newName, "", before, model)
		out = model
		return nil
	})
	return out, err
}

// ArchiveModel hides a model from default use: no new versions may be
// pushed to it. Its versions and aliases stay resolvable.
func (s *Service) ArchiveModel(ctx context.Context, name string) (*cairn.Model, error) {
	return s.setModelFlag(ctx, name, cairn.EventModelArchived, func(m *cairn.Model, now *mutation) bool {
		if m.Archived {
			return false
		}
		m.Archived = true
		return true
	})
}

// RestoreModel undoes ArchiveModel.
func (s *Service) RestoreModel(ctx context.Context, name string) (*cairn.Model, error) {
	return s.setModelFlag(ctx, name, cairn.EventModelRestored, func(m *cairn.Model, now *mutation) bool {
		if !m.Archived {
			return false
		}
		m.Archived = false
		return true
	})
}

func (s *Service) setModelFlag(ctx context.Context, name, action string, change func(*cairn.Model, *mutation) bool) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, name); err != nil {
		return nil, err
	}
	var out *cairn.Model
	err := s.update(ctx, func(m *mutation) error {
		model, err := lockModel(ctx, m, name)
		if err != nil {
			return err
		}
		before := cloneModel(model)
		if !change(model, m) {
			out = model
			return nil
		}
		model.UpdatedAt = m.now
		if err := m.tx.UpdateModel(ctx, model); err != nil {
			return err
		}
		m.record(action, name, name, "", before, model)
		out = model
		return nil
	})
	return out, err
}

// DeleteModel tombstones a model: it disappears from reads and lists but
// keeps its name, versions and history, and UndeleteModel brings it back.
// A model whose aliases point at versions is refused unless it has none:
// a deployment must never lose its target silently.
func (s *Service) DeleteModel(ctx context.Context, name string) error {
	if err := s.authorize(ctx, cairn.RoleMaintainer, name); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		model, err := lockModel(ctx, m, name)
		if err != nil {
			return err
		}
		if len(model.Aliases) > 0 {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q still has aliases (%s); delete them first", name, strings.Join(sortedKeys(model.Aliases), ", "))
		}
		if err := s.checkDeletion(ctx, m.tx, name, 0); err != nil {
			return err
		}
		before := cloneModel(model)
		now := m.now
		model.DeletedAt, model.UpdatedAt = &now, now
		if err := m.tx.UpdateModel(ctx, model); err != nil {
			return err
		}
		m.record(cairn.EventModelDeleted, name, name, "", before, nil)
		return nil
	})
}

// UndeleteModel restores a tombstoned model.
func (s *Service) UndeleteModel(ctx context.Context, name string) (*cairn.Model, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, name); err != nil {
		return nil, err
	}
	if err := cairn.ValidateModelName(name); err != nil {
		return nil, err
	}
	var out *cairn.Model
	err := s.update(ctx, func(m *mutation) error {
		model, err := m.tx.LockModel(ctx, name)
		if err != nil {
			return notFound(err, "model %q not found", name)
		}
		if model.DeletedAt == nil {
			out = model
			return nil
		}
		model.DeletedAt, model.UpdatedAt = nil, m.now
		if err := m.tx.UpdateModel(ctx, model); err != nil {
			return err
		}
		m.record(cairn.EventModelRestored, name, name, "", nil, model)
		out = model
		return nil
	})
	return out, err
}

func cloneModel(m *cairn.Model) *cairn.Model {
	c := *m
	c.Tags = maps.Clone(m.Tags)
	c.Aliases = maps.Clone(m.Aliases)
	return &c
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// notFound rewrites a store's ENOTFOUND into a message naming the entity;
// other errors pass through.
func notFound(err error, format string, args ...any) error {
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return cairn.Errorf(cairn.ENOTFOUND, format, args...)
	}
	return err
}
