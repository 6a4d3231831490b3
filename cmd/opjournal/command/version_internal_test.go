package command

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDescribeBuild(t *testing.T) {
	for _, tc := range []struct {
		version  string
		settings map[string]string
		want     string
	}{
		{"v1.2.0", nil, "v1.2.0"},
		{"", nil, "(devel)"},
		{"(devel)", map[string]string{"vcs.revision": "0c56dd0e1a2b3c4d", "vcs.modified": "true"}, "(devel) rev 0c56dd0e1a2b, modified"},
		{"(devel)", map[string]string{"vcs.revision": "0c56dd0e1a2b3c4d", "vcs.modified": "false"}, "(devel) rev 0c56dd0e1a2b"},
		{"v0.0.0-20260101000000-0c56dd0e1a2b", map[string]string{"vcs.revision": "0c56dd0e1a2b3c4d"}, "v0.0.0-20260101000000-0c56dd0e1a2b"},
	} {
		info := &debug.BuildInfo{Main: debug.Module{Version: tc.version}}
		for k, v := range tc.settings {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
		}
		require.Equal(t, tc.want, describeBuild(info))
	}
}
