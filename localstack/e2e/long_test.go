package e2e

import "testing"

func (s *suite) emulatorStoppedUnderLoad(t *testing.T) { t.Skip("not yet") }
func (s *suite) functionFails(t *testing.T)            { t.Skip("not yet") }
func (s *suite) s3Faults(t *testing.T)                 { t.Skip("not yet") }
func (s *suite) throughput(t *testing.T)               { t.Skip("not yet") }
