package infra

import (
	"fmt"
	"net/netip"
)

// NATMode says how many NAT gateways the private subnets egress through.
type NATMode string

const (
	// SingleNAT: one gateway for all AZs; cheap, but an AZ outage cuts egress (dev).
	SingleNAT NATMode = "single"
	// NATPerAZ: one gateway per AZ, so egress survives the loss of an AZ (prod).
	NATPerAZ NATMode = "perAz"
)

// SubnetPlan carves a VPC into one private and one public subnet per AZ.
// Private subnets get an eighth of the VPC each (pods take VPC IPs with the
// VPC CNI); public subnets, which only hold load balancers and NAT gateways,
// share the last eighth.
func SubnetPlan(vpcCIDR string, azs int) (public, private []string, err error) {
	vpc, err := netip.ParsePrefix(vpcCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("vpcCidr: %w", err)
	}
	if vpc.Bits() > 20 || azs < 1 || azs > 7 {
		return nil, nil, fmt.Errorf("vpcCidr: %s is too small for %d AZs", vpc, azs)
	}
	eighth := vpc.Bits() + 3
	for i := 0; i < azs; i++ {
		private = append(private, nthSubnet(vpc, eighth, i).String())
	}
	last := nthSubnet(vpc, eighth, 7)
	for i := 0; i < azs; i++ {
		public = append(public, nthSubnet(last, eighth+3, i).String())
	}
	return public, private, nil
}

// nthSubnet is the n-th subnet of size /bits inside parent.
func nthSubnet(parent netip.Prefix, bits, n int) netip.Prefix {
	base := parent.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(n) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
}
