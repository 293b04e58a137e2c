package brokercerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Secret names under a prefix (the resource's physical id).
const (
	CASecret     = "ca"
	BrokerSecret = "broker"
	RootCASecret = "root-ca"
)

// Resource properties the stack passes.
const (
	PropPrefix = "Prefix" // secret name prefix, e.g. Kafki/tls
	PropNames  = "Names"  // the brokers' DNS names and the bootstrap name
	// PropGeneration re-issues the broker certificate (from the same CA)
	// when it changes, names or not: the stack's -c certGeneration.
	PropGeneration = "Generation"
)

// Attributes returned to CloudFormation (Fn::GetAtt).
const (
	AttrCASecretArn     = "CASecretArn"
	AttrBrokerSecretArn = "BrokerSecretArn"
	AttrRootCASecretArn = "RootCASecretArn"
)

// Material is a secret's JSON: Lambda's layouts (certificate, and
// privateKey as CLIENT_CERTIFICATE_TLS_AUTH names it).
type Material struct {
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"privateKey,omitempty"`
}

// Handler serves the custom resource against a Secrets Manager client.
type Handler struct {
	SM  *secretsmanager.Client
	Now func() time.Time
}

// Handle is a cfn.CustomResourceFunction: the physical id is the prefix,
// the data the three secrets' ARNs. Key material never goes into the
// response, the error or the log.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	if ev.RequestType == cfn.RequestDelete {
		return ev.PhysicalResourceID, nil, h.delete(ctx, ev.PhysicalResourceID)
	}
	prefix, names, err := properties(ev.ResourceProperties)
	if err != nil {
		return "", nil, err
	}
	if ev.RequestType == cfn.RequestUpdate && ev.PhysicalResourceID == prefix {
		reissue := fmt.Sprint(ev.OldResourceProperties[PropGeneration]) != fmt.Sprint(ev.ResourceProperties[PropGeneration])
		data, err := h.update(ctx, prefix, names, reissue)
		return prefix, data, err
	}
	// Create, or an update to a new prefix: CloudFormation deletes the
	// old prefix's secrets once this one succeeds.
	data, err := h.create(ctx, prefix, names)
	return prefix, data, err
}

func properties(p map[string]any) (string, []string, error) {
	prefix, _ := p[PropPrefix].(string)
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return "", nil, fmt.Errorf("property %s: required", PropPrefix)
	}
	raw, _ := p[PropNames].([]any)
	var names []string
	for _, n := range raw {
		s, ok := n.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return "", nil, fmt.Errorf("property %s: %v is not a name", PropNames, n)
		}
		names = append(names, strings.TrimSpace(s))
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("property %s: at least one name", PropNames)
	}
	return prefix, names, nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) create(ctx context.Context, prefix string, names []string) (map[string]any, error) {
	ca, err := NewAuthority(prefix+" CA", h.now())
	if err != nil {
		return nil, err
	}
	return h.issue(ctx, prefix, names, ca, true)
}

// issue signs a broker certificate with ca and stores it; withCA stores
// the CA and its public copy too.
func (h *Handler) issue(ctx context.Context, prefix string, names []string, ca Authority, withCA bool) (map[string]any, error) {
	leaf, err := ca.Issue(names, h.now())
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	type put struct {
		name, attr, desc string
		m                Material
	}
	puts := []put{{BrokerSecret, AttrBrokerSecretArn, "Kafki brokers' TLS certificate chain and key (brokers only)", Material{leaf.ChainPEM, leaf.KeyPEM}}}
	if withCA {
		puts = append(puts,
			put{CASecret, AttrCASecretArn, "Kafki private CA certificate and key (the broker-certs custom resource only)", Material{ca.CertPEM, ca.KeyPEM}},
			put{RootCASecret, AttrRootCASecretArn, "Kafki CA certificate for clients (Lambda SERVER_ROOT_CA_CERTIFICATE)", Material{Certificate: ca.CertPEM}})
	}
	for _, p := range puts {
		arn, err := h.put(ctx, prefix+"/"+p.name, p.desc, p.m)
		if err != nil {
			return nil, err
		}
		data[p.attr] = arn
	}
	if !withCA {
		for _, n := range []struct{ name, attr string }{{CASecret, AttrCASecretArn}, {RootCASecret, AttrRootCASecretArn}} {
			arn, err := h.arn(ctx, prefix+"/"+n.name)
			if err != nil {
				return nil, err
			}
			data[n.attr] = arn
		}
	}
	return data, nil
}

// update keeps everything when the names are those of the stored broker
// certificate (and reissue is false), and re-issues the broker
// certificate from the stored CA otherwise; without a stored CA it
// starts over.
func (h *Handler) update(ctx context.Context, prefix string, names []string, reissue bool) (map[string]any, error) {
	var caM, brokerM Material
	if err := h.get(ctx, prefix+"/"+CASecret, &caM); err != nil {
		if isNotFound(err) {
			return h.create(ctx, prefix, names)
		}
		return nil, err
	}
	ca := Authority{CertPEM: caM.Certificate, KeyPEM: caM.PrivateKey}
	if err := h.get(ctx, prefix+"/"+BrokerSecret, &brokerM); err != nil {
		if isNotFound(err) {
			return h.issue(ctx, prefix, names, ca, false)
		}
		return nil, err
	}
	have, err := LeafNames(brokerM.Certificate)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", prefix, BrokerSecret, err)
	}
	if !reissue && sameNames(have, names) {
		data := map[string]any{}
		for _, n := range []struct{ name, attr string }{{CASecret, AttrCASecretArn}, {BrokerSecret, AttrBrokerSecretArn}, {RootCASecret, AttrRootCASecretArn}} {
			arn, err := h.arn(ctx, prefix+"/"+n.name)
			if err != nil {
				return nil, err
			}
			data[n.attr] = arn
		}
		return data, nil
	}
	return h.issue(ctx, prefix, names, ca, false)
}

func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func (h *Handler) delete(ctx context.Context, prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, n := range []string{BrokerSecret, RootCASecret, CASecret} {
		_, err := h.SM.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(prefix + "/" + n), ForceDeleteWithoutRecovery: aws.Bool(true),
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete secret %s/%s: %w", prefix, n, err)
		}
	}
	return nil
}

// put creates the secret, or sets a new value when it exists (a retried
// Create, or a re-issue).
func (h *Handler) put(ctx context.Context, name, desc string, m Material) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	out, err := h.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), Description: aws.String(desc), SecretString: aws.String(string(body)),
		Tags: []types.Tag{{Key: aws.String("kafki:managed-by"), Value: aws.String("broker-certs")}},
	})
	if err == nil {
		return aws.ToString(out.ARN), nil
	}
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	pv, err := h.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(string(body))})
	if err != nil {
		return "", fmt.Errorf("put secret value %s: %w", name, err)
	}
	return aws.ToString(pv.ARN), nil
}

func (h *Handler) get(ctx context.Context, name string, m *Material) error {
	out, err := h.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return fmt.Errorf("get secret %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), m); err != nil {
		// The message says where, not what: the value holds a key.
		return fmt.Errorf("secret %s: not the JSON layout {\"certificate\", \"privateKey\"}", name)
	}
	return nil
}

func (h *Handler) arn(ctx context.Context, name string) (string, error) {
	out, err := h.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("describe secret %s: %w", name, err)
	}
	return aws.ToString(out.ARN), nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
