// Package tlsres implements the resources of the Pulumi `tls` package (v5) that this project uses, with the same
// property names, defaults and lifecycle as the official provider (a bridge of terraform-provider-tls):
//
//	tls:index/privateKey:PrivateKey               RSA, ECDSA (P224, P256, P384, P521) and ED25519 keys
//	tls:index/selfSignedCert:SelfSignedCert       a certificate signed by its own key
//	tls:index/certRequest:CertRequest             a PKCS#10 certificate signing request
//	tls:index/locallySignedCert:LocallySignedCert a certificate for a CSR, signed by a CA key and certificate
//
// Any change of an input replaces the resource, except earlyRenewalHours, which is stored. A certificate whose
// renewal time (validityEndTime − earlyRenewalHours) has come is replaced by the next update: Diff reports a
// replacement of readyForRenewal, and Read (refresh) sets readyForRenewal to true.
package tlsres

import (
	"context"
	"fmt"
	"time"

	"kube-dumb-way/tools/providers/internal/props"
	"kube-dumb-way/tools/providers/internal/provsrv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Type tokens.
const (
	PrivateKeyType        = "tls:index/privateKey:PrivateKey"
	SelfSignedCertType    = "tls:index/selfSignedCert:SelfSignedCert"
	CertRequestType       = "tls:index/certRequest:CertRequest"
	LocallySignedCertType = "tls:index/locallySignedCert:LocallySignedCert"
)

// now is the clock (tests move it).
var now = time.Now

// Resources is the provider's type table.
func Resources() map[string]provsrv.Resource {
	return map[string]provsrv.Resource{
		PrivateKeyType:        privateKeyResource(),
		SelfSignedCertType:    selfSignedCertResource(),
		CertRequestType:       certRequestResource(),
		LocallySignedCertType: locallySignedCertResource(),
	}
}

// output is one computed property.
type output struct {
	name   string
	secret bool
}

// generated is what a create step makes: the ID and the computed outputs.
type generated struct {
	id      string
	outputs resource.PropertyMap
}

type tlsResource struct {
	inputs    []string
	defaults  resource.PropertyMap
	updatable map[string]bool // inputs whose change is stored rather than replacing
	outputs   []output
	renews    bool // has validityEndTime / earlyRenewalHours / readyForRenewal
	validate  func(inputs resource.PropertyMap) []*pulumirpc.CheckFailure
	create    func(inputs resource.PropertyMap) (generated, error) // inputs: plain, defaults applied
}

// withDefaults: m plus the defaults of absent (or null) inputs.
func (r *tlsResource) withDefaults(m resource.PropertyMap) resource.PropertyMap {
	out := m.Copy()
	for k, v := range r.defaults {
		if !props.Present(out, string(k)) {
			out[k] = v
		}
	}
	return out
}

func (r *tlsResource) Check(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, []*pulumirpc.CheckFailure, error) {
	var failures []*pulumirpc.CheckFailure
	if r.validate != nil {
		failures = r.validate(req.News)
	}
	return req.News, failures, nil
}

func (r *tlsResource) oldInputs(req *provsrv.Request) resource.PropertyMap {
	if req.OldInputs != nil {
		return req.OldInputs
	}
	return req.Olds
}

func (r *tlsResource) Diff(ctx context.Context, req *provsrv.Request) (provsrv.DiffResult, error) {
	olds := r.withDefaults(r.oldInputs(req))
	news := r.withDefaults(req.News)
	changed := props.ChangedKeys(olds, news, r.inputs...)
	res := provsrv.DiffResult{Changed: changed}
	for _, k := range changed {
		if !r.updatable[k] {
			res.Replaces = append(res.Replaces, k)
		}
	}
	if r.renews && !props.IsUnknown(news, "earlyRenewalHours") && dueForRenewal(req.Olds, news) {
		res.Replaces = append(res.Replaces, "readyForRenewal")
	}
	return res, nil
}

// dueForRenewal: the state's validityEndTime less earlyRenewalHours (from inputs) has come.
func dueForRenewal(state, inputs resource.PropertyMap) bool {
	end, ok := props.String(state, "validityEndTime")
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339, end)
	if err != nil {
		return false
	}
	early := time.Duration(props.Number(inputs, "earlyRenewalHours", 0)) * time.Hour
	return !now().Before(t.Add(-early))
}

func (r *tlsResource) Create(ctx context.Context, req *provsrv.Request) (string, resource.PropertyMap, error) {
	outs := r.withDefaults(req.News)
	if req.Preview {
		for _, o := range r.outputs {
			outs[resource.PropertyKey(o.name)] = props.SecretIf(o.secret, props.Computed())
		}
		return "", outs, nil
	}
	gen, err := r.create(props.PlainMap(outs))
	if err != nil {
		return "", nil, err
	}
	for _, o := range r.outputs {
		v, ok := gen.outputs[resource.PropertyKey(o.name)]
		if !ok {
			return "", nil, fmt.Errorf("internal error: output %s was not made", o.name)
		}
		outs[resource.PropertyKey(o.name)] = props.SecretIf(o.secret, v)
	}
	if r.renews {
		outs["readyForRenewal"] = resource.NewBoolProperty(dueForRenewal(outs, outs))
	}
	return gen.id, outs, nil
}

// Update stores changed updatable inputs (earlyRenewalHours); everything else replaces.
func (r *tlsResource) Update(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, error) {
	outs := req.Olds.Copy()
	news := r.withDefaults(req.News)
	for _, k := range r.inputs {
		if v, ok := news[resource.PropertyKey(k)]; ok {
			outs[resource.PropertyKey(k)] = v
		} else {
			delete(outs, resource.PropertyKey(k))
		}
	}
	if r.renews {
		if props.IsUnknown(news, "earlyRenewalHours") {
			outs["readyForRenewal"] = resource.MakeComputed(resource.NewBoolProperty(false))
		} else {
			outs["readyForRenewal"] = resource.NewBoolProperty(dueForRenewal(outs, news))
		}
	}
	return outs, nil
}

func (r *tlsResource) Read(ctx context.Context, req *provsrv.Request) (resource.PropertyMap, resource.PropertyMap, error) {
	outs := req.Olds.Copy()
	if r.renews && dueForRenewal(outs, outs) {
		outs["readyForRenewal"] = resource.NewBoolProperty(true)
	}
	inputs := req.OldInputs
	if inputs == nil {
		inputs = resource.PropertyMap{}
		for _, k := range r.inputs {
			if v, ok := req.Olds[resource.PropertyKey(k)]; ok {
				inputs[resource.PropertyKey(k)] = v
			}
		}
	}
	return inputs, outs, nil
}

func (r *tlsResource) Delete(ctx context.Context, req *provsrv.Request) error { return nil }

func str(v string) resource.PropertyValue { return resource.NewStringProperty(v) }
