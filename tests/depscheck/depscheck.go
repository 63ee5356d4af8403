// Package depscheck finds dependency lists that hold one of this program's
// own component resources.
//
// The Go SDK expands a dependency on a local (non-remote) component to the
// children it has registered so far (sdk/go/pulumi/rpc.go addDependency; a
// child is added in context.go getOpts, in the child's registration
// goroutine). Which children that is depends on goroutine timing, so a
// preview and the update after it can send different dependency lists, and
// `pulumi up --plan` refuses the approved change: "violates plan:
// dependencies changed: deleted …". Custom resources and remote components
// (a Helm v4 Chart, pulumi-eks's components) are kept by URN and are stable.
//
// The program and the test programs therefore name charts, add-ons'
// Resources and custom resources in a []pulumi.Resource, never a component
// of this module. The check is static (types from go/packages), so it does
// not depend on the timing it guards against.
package depscheck

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

const (
	pulumiPkg = "github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	// Module is the path whose component types are local components.
	Module = "github.com/aiplatform/infra"
)

// Finding is one own component placed in a []pulumi.Resource.
type Finding struct {
	Pos       token.Position
	Component string // the component's type, e.g. *addons.LoadBalancerController
	Expr      string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s (%s) is a component of this module in a []pulumi.Resource; name its chart or Resources instead (a dependency on it is expanded to the children registered so far, so `up --plan` can refuse an approved change)",
		f.Pos.Filename, f.Pos.Line, f.Expr, f.Component)
}

// Check loads patterns (with their tests) from dir and returns every
// element of a []pulumi.Resource literal, and every value appended to a
// []pulumi.Resource, whose static type is a pointer to a component of
// Module. It fails when a package does not load or type-check, so a check
// that saw nothing cannot pass.
func Check(dir string, patterns ...string) ([]Finding, int, error) {
	cfg := &packages.Config{
		Mode:  packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:   dir,
		Tests: true,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, 0, err
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, 0, fmt.Errorf("loading %v in %s: %s", patterns, dir, strings.Join(errs, "; "))
	}
	seen := map[string]bool{}
	var out []Finding
	lists := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				var elems []ast.Expr
				switch n := n.(type) {
				case *ast.CompositeLit:
					if !isResourceSlice(p.TypesInfo.TypeOf(n)) {
						return true
					}
					elems = n.Elts
				case *ast.CallExpr:
					if !isAppend(p.TypesInfo, n) || len(n.Args) < 2 || !isResourceSlice(p.TypesInfo.TypeOf(n)) {
						return true
					}
					elems = n.Args[1:]
					if n.Ellipsis.IsValid() {
						elems = nil // a spread slice is checked where it is built
					}
				default:
					return true
				}
				lists++
				for _, e := range elems {
					name, ok := ownComponent(p.TypesInfo.TypeOf(e))
					if !ok {
						continue
					}
					pos := p.Fset.Position(e.Pos())
					key := fmt.Sprintf("%s:%d:%d", pos.Filename, pos.Line, pos.Column)
					if seen[key] { // a package and its test variant share files
						continue
					}
					seen[key] = true
					out = append(out, Finding{Pos: pos, Component: name, Expr: types.ExprString(e)})
				}
				return true
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pos.Filename != out[j].Pos.Filename {
			return out[i].Pos.Filename < out[j].Pos.Filename
		}
		return out[i].Pos.Line < out[j].Pos.Line
	})
	return out, lists, nil
}

func isAppend(info *types.Info, call *ast.CallExpr) bool {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "append"
}

func isResourceSlice(t types.Type) bool {
	if t == nil {
		return false
	}
	s, ok := t.Underlying().(*types.Slice)
	return ok && isPulumi(s.Elem(), "Resource")
}

func isPulumi(t types.Type, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == pulumiPkg && n.Obj().Name() == name
}

// ownComponent reports whether t is *T for a struct T of Module that embeds
// pulumi.ResourceState (a local component; a custom resource embeds
// CustomResourceState).
func ownComponent(t types.Type) (string, bool) {
	if t == nil {
		return "", false
	}
	ptr, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return "", false
	}
	named, ok := types.Unalias(ptr.Elem()).(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return "", false
	}
	path := named.Obj().Pkg().Path()
	if path != Module && !strings.HasPrefix(path, Module+"/") {
		return "", false
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return "", false
	}
	for i := 0; i < st.NumFields(); i++ {
		if f := st.Field(i); f.Embedded() && isPulumi(f.Type(), "ResourceState") {
			return "*" + named.Obj().Pkg().Name() + "." + named.Obj().Name(), true
		}
	}
	return "", false
}

// Require fails t for each finding in dir's packages (patterns ./...), and
// when the check saw fewer than minLists resource lists: a check that saw
// nothing cannot pass.
func Require(t testing.TB, dir string, minLists int) {
	t.Helper()
	findings, lists, err := Check(dir, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if lists < minLists {
		t.Fatalf("the check saw %d resource lists in %s, want at least %d", lists, dir, minLists)
	}
	for _, f := range findings {
		t.Error(f)
	}
}
