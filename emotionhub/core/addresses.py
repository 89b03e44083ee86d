"""Whether an IP address is on the public internet, seeing through the IPv6 forms that
carry an IPv4 address: an outgoing request (webhook, fetch) must not reach a private
network through ``::ffff:10.0.0.1``, NAT64 ``64:ff9b::10.0.0.1`` or 6to4 ``2002:0a00::``.

``ipaddress`` calls the NAT64 well-known prefix (RFC 6052) global, yet a NAT64 gateway
forwards it to the embedded IPv4 address, so the embedded address is what is judged.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def effective_address(address: IPAddress) -> IPAddress:
    """The IPv4 address a packet to ``address`` ends up at, when it embeds one."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    """Globally reachable unicast, judged on the embedded IPv4 address when there is one."""
    target = effective_address(address)
    return target.is_global and not target.is_multicast
