package server

// DescribeLogDirs (key 35), versions 1-4 (Kafka 4 removed v0).
//
// The broker has one log dir, its data directory (answered as an absolute
// path). Topics null means every topic; otherwise only the listed
// partitions. Each partition this broker holds a log of is answered with
// the bytes of its local segments, OffsetLag 0 and IsFuture false (there
// are no future replicas: logs never move between dirs). Unknown topics
// and partitions are omitted, as Kafka omits them, and so are partitions
// of which this broker holds no replica the cluster counts (NoRole): their
// directories may exist, but Kafka would not list them. Followers' logs are
// listed, as Kafka lists every log it holds. v4 adds the total and usable
// bytes of the directory's filesystem, -1 when they cannot be read.
//
// Authorization, as Kafka: DESCRIBE on the cluster, else no dirs and
// CLUSTER_AUTHORIZATION_FAILED (the top-level error of v3+).

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	describeLogDirsMin = 1
	describeLogDirsMax = 4
)

func (s *Server) handleDescribeLogDirs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !rc.authorize(ctx, auth.OpDescribe, auth.Cluster()) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}

	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = s.opts.DataDir
	if abs, err := filepath.Abs(s.opts.DataDir); err == nil {
		dir.Dir = abs
	}
	if req.Version >= 4 {
		dir.TotalBytes, dir.UsableBytes = fsBytes(dir.Dir)
	}

	// want[topic] is nil for "every partition" (Topics null); otherwise
	// the set of requested partitions. Duplicates collapse, as in Kafka,
	// which builds a set of requested partitions.
	var want map[string]map[int32]bool
	if req.Topics != nil {
		want = make(map[string]map[int32]bool, len(req.Topics))
		for _, rt := range req.Topics {
			ps := want[rt.Topic]
			if ps == nil {
				ps = make(map[int32]bool, len(rt.Partitions))
				want[rt.Topic] = ps
			}
			for _, p := range rt.Partitions {
				ps[p] = true
			}
		}
	}

	var ts []*topics.Topic
	if want == nil {
		ts = s.topics.Topics()
	} else {
		for name := range want {
			if t := s.topics.Topic(name); t != nil {
				ts = append(ts, t)
			}
		}
	}
	// Deterministic output: topics by name, partitions by index.
	slices.SortFunc(ts, func(a, b *topics.Topic) int { return strings.Compare(a.Name, b.Name) })

	for _, t := range ts {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = t.Name
		for _, p := range t.Partitions {
			if want != nil && !want[t.Name][p.Index] {
				continue
			}
			if role, _, _ := p.Role(); role == topics.NoRole {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = p.Index
			dp.Size = p.Log().Size()
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp
}

// fsBytes returns the total size of the filesystem holding dir and the
// bytes an unprivileged writer may still use there (what Kafka reports as
// usable space), or -1, -1 if the filesystem cannot be read.
func fsBytes(dir string) (total, usable int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	bsize := int64(st.Bsize) // int64 on Linux, uint32 on Darwin
	return int64(st.Blocks) * bsize, int64(st.Bavail) * bsize
}
