// Package modelrepo checks a Triton model repository's layout before it is
// uploaded: what Triton would otherwise only report in its log while it
// crash-loops or serves without the model.
//
// The rules follow Triton's docs/user_guide/model_repository.md and
// model_configuration.md (server r26.07): each model is a directory holding a
// config.pbtxt (protobuf text format) and numeric version subdirectories;
// the config's name, when set, equals the directory; a model names its
// backend or platform; an ensemble's steps name models of the repository.
package modelrepo

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
)

// Model is one model of the repository as Check read it.
type Model struct {
	Name     string
	Backend  string
	Platform string
	// Versions are the numeric version directories, ascending.
	Versions []int
	// Steps are the models an ensemble calls, in order.
	Steps []string
}

// ErrEmpty: a repository without models. Triton's S3 filesystem reports an
// empty prefix as "not a directory" (triton-inference-server/core
// src/filesystem/implementations/s3.h, S3FileSystem::IsDirectory) and the
// server exits with "repository path is not a valid directory".
var ErrEmpty = errors.New("no model directories: Triton exits with \"repository path is not a valid directory\" on an empty S3 prefix")

type config struct {
	msg  *message
	line map[string]int
}

// Check reads the repository at the root of fsys and returns its models and
// every problem found, each prefixed with the path it concerns.
func Check(fsys fs.FS) ([]Model, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("repository: %w", err)
	}
	var errs []error
	bad := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	var models []Model
	configs := map[string]*message{}
	for _, e := range entries {
		if !e.IsDir() {
			continue // Triton only looks at directories
		}
		m := Model{Name: e.Name()}
		cfgPath := path.Join(m.Name, "config.pbtxt")
		raw, err := fs.ReadFile(fsys, cfgPath)
		var msg *message
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad(cfgPath, "missing; each model needs a config.pbtxt naming its backend (e.g. backend: \"python\") or platform (e.g. platform: \"ensemble\")")
		case err != nil:
			bad(cfgPath, "%v", err)
		default:
			if msg, err = parseText(string(raw)); err != nil {
				bad(cfgPath, "%v", err)
			}
		}
		if msg != nil {
			configs[m.Name] = msg
			m.Backend, m.Platform = msg.str("backend"), msg.str("platform")
			if n := msg.str("name"); n != "" && n != m.Name {
				bad(cfgPath, "name %q does not match its directory %q; Triton requires them to be equal", n, m.Name)
			}
			if m.Backend == "" && m.Platform == "" {
				bad(cfgPath, "needs backend (e.g. backend: \"python\") or platform (e.g. platform: \"ensemble\")")
			}
		}
		subs, err := fs.ReadDir(fsys, m.Name)
		if err != nil {
			bad(m.Name, "%v", err)
			continue
		}
		for _, s := range subs {
			if !s.IsDir() {
				continue // config.pbtxt, labels files
			}
			v, err := strconv.Atoi(s.Name())
			if err != nil || v < 1 || strconv.Itoa(v) != s.Name() {
				bad(path.Join(m.Name, s.Name()), "not a version directory; versions are whole numbers >= 1 like %s/1", m.Name)
				continue
			}
			m.Versions = append(m.Versions, v)
		}
		sort.Ints(m.Versions)
		if len(m.Versions) == 0 {
			bad(m.Name, "no version directory like %s/1; an ensemble needs one too (on S3 it must hold an object, e.g. a placeholder file)", m.Name)
		}
		if m.Backend == "python" {
			file := "model.py"
			if msg != nil && msg.str("default_model_filename") != "" {
				file = msg.str("default_model_filename")
			}
			for _, v := range m.Versions {
				p := path.Join(m.Name, strconv.Itoa(v), file)
				if _, err := fs.Stat(fsys, p); err != nil {
					bad(p, "missing; the python backend loads the model from it")
				}
			}
		}
		models = append(models, m)
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("repository: %w", ErrEmpty)
	}
	byName := map[string]*Model{}
	for i := range models {
		byName[models[i].Name] = &models[i]
	}
	for i := range models {
		m := &models[i]
		msg := configs[m.Name]
		if msg == nil || m.Platform != "ensemble" {
			continue
		}
		m.Steps, errs = checkEnsemble(path.Join(m.Name, "config.pbtxt"), m.Name, msg, byName, errs)
	}
	return models, errors.Join(errs...)
}

// checkEnsemble checks an ensemble's steps: each names another model of the
// repository (and one of its versions), each step input comes from an
// ensemble input or a step output, and each ensemble output from a step.
func checkEnsemble(cfgPath, self string, msg *message, models map[string]*Model, errs []error) ([]string, []error) {
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", cfgPath, fmt.Sprintf(format, args...)))
	}
	sched := msg.msgs("ensemble_scheduling")
	var steps []*message
	for _, s := range sched {
		steps = append(steps, s.msgs("step")...)
	}
	if len(steps) == 0 {
		bad("ensemble_scheduling has no step; an ensemble runs at least one model")
		return nil, errs
	}
	available := map[string]bool{}
	for _, in := range msg.msgs("input") {
		available[in.str("name")] = true
	}
	produced := map[string]bool{}
	for _, st := range steps {
		for _, om := range st.msgs("output_map") {
			produced[om.str("value")] = true
			available[om.str("value")] = true
		}
	}
	var names []string
	for i, st := range steps {
		key := fmt.Sprintf("ensemble_scheduling.step[%d]", i)
		name := st.str("model_name")
		names = append(names, name)
		target, ok := models[name]
		switch {
		case name == "":
			bad("%s.model_name: required", key)
		case name == self:
			bad("%s.model_name: %q is the ensemble itself", key, name)
		case !ok:
			bad("%s.model_name: %q is not a model of this repository", key, name)
		default:
			if v := st.str("model_version"); v != "" && v != "-1" {
				n, err := strconv.Atoi(v)
				if err != nil || !contains(target.Versions, n) {
					bad("%s.model_version: %s is not a version directory of %s (has %v); use -1 for the latest", key, v, name, target.Versions)
				}
			}
		}
		for _, im := range st.msgs("input_map") {
			if v := im.str("value"); !available[v] {
				bad("%s.input_map: %q is neither an input of the ensemble nor an output of a step", key, v)
			}
		}
	}
	for _, out := range msg.msgs("output") {
		if n := out.str("name"); !produced[n] {
			bad("output %q is not produced by any step's output_map", n)
		}
	}
	return names, errs
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
