package command

import (
	"runtime/debug"
	"strings"
)

// version is the module version and VCS revision the binary was built from,
// as the Go toolchain recorded them: "v1.2.0" for a go install of a release,
// "(devel) rev 0c56dd0e1a2b, modified" for a build in a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	return describeBuild(info)
}

func describeBuild(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" || strings.Contains(v, rev[:min(12, len(rev))]) {
		return v // a pseudo-version names its revision already
	}
	v += " rev " + rev[:min(12, len(rev))]
	if modified == "true" {
		v += ", modified"
	}
	return v
}
