package metastore

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/cluster"
)

// A registration carries every listener's endpoint; one written before
// endpoints existed reads as its single address on every listener.
func TestRegistrationEndpoints(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	l1 := acquire(t, s, cluster.BrokerLease(1), "1")
	eps := []cluster.Endpoint{
		{Listener: "CLIENT", Protocol: "SASL_SSL", Host: "kafka1.example.com", Port: 9094},
		{Listener: "REPLICATION", Protocol: "SSL", Host: "10.0.0.1", Port: 9093},
	}
	if err := s.Register(ctx, cluster.BrokerInfo{ID: 1, Addr: "10.0.0.1:9093", Endpoints: eps, SessionEpoch: l1.Epoch()}); err != nil {
		t.Fatal(err)
	}
	// A legacy registration, as brokers wrote it before listeners.
	old := brokerKey(2)
	old[attrAddr], old[attrRack], old[attrSessionEpoch], old[attrFenced] = str("h2:9092"), str(""), num(1), boolean(false)
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: old}); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Brokers) != 2 {
		t.Fatalf("brokers %+v", snap.Brokers)
	}
	if got := snap.Brokers[0].Endpoints; !reflect.DeepEqual(got, eps) {
		t.Fatalf("endpoints %+v, want %+v", got, eps)
	}
	if e, ok := snap.Brokers[0].Endpoint("CLIENT"); !ok || e.Addr() != "kafka1.example.com:9094" {
		t.Fatalf("CLIENT endpoint %+v %v", e, ok)
	}
	if _, ok := snap.Brokers[0].Endpoint("PLAINTEXT"); ok {
		t.Fatal("a listener the broker does not have has an endpoint")
	}
	if e, ok := snap.Brokers[1].Endpoint("CLIENT"); !ok || e.Addr() != "h2:9092" {
		t.Fatalf("legacy registration on CLIENT: %+v %v", e, ok)
	}
}

func TestMalformedEndpointFailsTheRead(t *testing.T) {
	m := brokerKey(3)
	m[attrAddr], m[attrSessionEpoch] = str("h:1"), num(1)
	m[attrEndpoints] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"SSL": str("h:1")}}
	if _, err := parseBroker(m); err == nil {
		t.Fatal("an endpoint without a protocol was accepted")
	}
}
