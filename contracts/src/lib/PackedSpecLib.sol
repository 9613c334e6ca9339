// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import "../SessionTypes.sol";


/// @notice The session-wide fields of a packed spec, read once. Limits stay in the bytes: their
///         fields hold the offset of the limit's type byte (docs/compact-signatures.md).
struct SpecHeader {
    uint256 start;
    uint256 end;
    address signer;
    uint48 validAfter;
    uint48 validUntil;
    uint256 feeLimitAt;
    uint8 paymasterMode;
    address paymaster;
    uint256 opLimitAt;
    uint256 callCount;
    uint256 transferCount;
}

/// @notice `userOp.signature` as read by PackedSpecLib.readSignature. Offsets point into the
///         signature; `positions` are leaf positions and `offsets` where each leaf starts (in
///         enable mode every policy of the spec). The session-key signature is the last 65 bytes.
struct SignatureView {
    uint8 mode;
    uint48 timeHint;
    SpecHeader header;
    bytes32 sessionHash;
    uint256[] positions;
    uint256[] offsets;
    uint256 specEnd;
    uint256 chainsAt;
    uint256 chainCount;
    uint256 ownerSignatureAt;
    uint256 ownerSignatureEnd;
}

/// @title Reader of the packed spec encoding, its policy tree and the indexed multiproof.
/// @notice docs/compact-signatures.md is the byte-level reference; the Rust twin is
///         `sessionkeys_contracts::vocabulary::packed`. Every read is bounds-checked: bytes that
///         are not the one valid form revert with `MalformedEncoding(offset)`.
library PackedSpecLib {
    /// @dev The shortest leaf: a transfer policy with an unlimited budget (20 + 32 + 1 bytes).
    uint256 internal constant MIN_LEAF = 53;
    /// @dev The most policies a session holds: leaf positions are uint16.
    uint256 internal constant MAX_POLICIES = 1 << 16;

    /// @dev Reads `n` (1..32) bytes at `o` as a big-endian integer, or reverts at `o`.
    function read(bytes calldata data, uint256 o, uint256 n) internal pure returns (uint256 v) {
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            if (o + n > data.length) revert ISessionKeyValidator.MalformedEncoding(o);
            // Assembly: a calldata slice plus a shift is the one-word read of an unaligned field
            // (Solidity would copy it to memory); the bound is checked above. Covered by
            // tests/packed_encoding.rs and every session test.
            assembly ("memory-safe") {
                v := shr(sub(256, shl(3, n)), calldataload(add(data.offset, o)))
            }
        }
    }

    /// @dev Reads `n` (1..32) bytes at `o` without a bound check: only for fields of a structure
    ///      the checked walk (readHeader, readLeaves, the signature reader) has already read, so
    ///      every such field is known to lie inside `data`. Saves a check and a revert per site.
    function at(bytes calldata data, uint256 o, uint256 n) internal pure returns (uint256 v) {
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            // Assembly: as in read.
            assembly ("memory-safe") {
                v := shr(sub(256, shl(3, n)), calldataload(add(data.offset, o)))
            }
        }
    }

    /// @return end The offset after the usage limit whose type byte is at `o`, or a revert at the
    ///         first field out of form.
    function limitEnd(bytes calldata data, uint256 o) internal pure returns (uint256 end) {
        bytes4 malformed = ISessionKeyValidator.MalformedEncoding.selector;
        // Assembly: one read of the type byte and one bound check per field, no internal calls
        // (this runs for every limit of every leaf an op carries). Covered by
        // tests/packed_encoding.rs (every cut and mutation against the Rust reader).
        assembly ("memory-safe") {
            let len := data.length
            let limitType := shr(248, calldataload(add(data.offset, o)))
            // The limit's length by its type: 1 (unlimited), 33 (lifetime), 39 (allowance), and
            // 0 for an unknown type (refused below).
            end := add(o, byte(limitType, LIMIT_LENGTHS))
            // Out of form: the type byte is missing or unknown, or a field is cut short. The
            // refusal names the first field that is: the type byte, the limit, then the period.
            if or(or(iszero(lt(o, len)), gt(limitType, 2)), gt(end, len)) {
                let failAt := o
                if and(lt(o, len), lt(limitType, 3)) {
                    failAt := add(o, 1)
                    if iszero(gt(add(o, 33), len)) { failAt := add(o, 33) }
                }
                mstore(0, malformed)
                mstore(4, failAt)
                revert(0, 0x24)
            }
        }
    }

    /// @return The offset after the usage limit at `o`, already read by the checked walk.
    function skipLimit(bytes calldata data, uint256 o) internal pure returns (uint256) {
        uint256 limitType = at(data, o, 1);
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            return limitType == LIMIT_UNLIMITED ? o + 1 : limitType == LIMIT_LIFETIME ? o + 33 : o + 39;
        }
    }

    /// @return limitType The type of the usage limit at `o`, already read by the checked walk.
    /// @return limit Its limit (0 when unlimited).
    /// @return period Its period (0 unless an allowance).
    function limitAt(bytes calldata data, uint256 o)
        internal
        pure
        returns (uint256 limitType, uint256 limit, uint256 period)
    {
        // Assembly: three unaligned reads of a limit the checked walk has read (so inside
        // `data`), without internal calls; read on every charge. Covered by every session test.
        assembly ("memory-safe") {
            let p := add(data.offset, o)
            limitType := shr(248, calldataload(p))
            if limitType {
                limit := calldataload(add(p, 1))
                if eq(limitType, LIMIT_ALLOWANCE) { period := shr(208, calldataload(add(p, 33))) }
            }
        }
    }

    /// @notice Reads the header that starts at `o` into `h` (filled in place: the caller's struct
    ///         is already allocated).
    function readHeader(bytes calldata data, uint256 o, SpecHeader memory h) internal pure {
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            h.start = o;
            // signer (20), validAfter (6), validUntil (6): one word
            _need(data, o, 32, 0x060614);
            uint256 word = at(data, o, 32);
            h.signer = address(uint160(word >> 96));
            h.validAfter = uint48(word >> 48);
            h.validUntil = uint48(word);
            h.feeLimitAt = o + 32;
            o = limitEnd(data, o + 32);
            uint256 mode = read(data, o, 1);
            if (mode > PAYMASTER_ONE) revert ISessionKeyValidator.MalformedEncoding(o);
            h.paymasterMode = uint8(mode);
            ++o;
            if (mode == PAYMASTER_ONE) {
                h.paymaster = address(uint160(read(data, o, 20)));
                o += 20;
            }
            h.opLimitAt = o;
            o = limitEnd(data, o);
            _need(data, o, 4, 0x0202);
            word = at(data, o, 4);
            h.callCount = word >> 16;
            h.transferCount = uint16(word);
            // Leaf positions are uint16: more policies than positions is no valid header.
            if (h.callCount + h.transferCount > MAX_POLICIES) revert ISessionKeyValidator.MalformedEncoding(o);
            read(data, o + 4, 32);
            h.end = o + 36;
        }
    }

    /// @return The offset after the call policy leaf at `o`, or a revert at the first field out
    ///         of form (docs/compact-signatures.md, "Refusals").
    function callLeafEnd(bytes calldata data, uint256 o) internal pure returns (uint256) {
        // Fixed fields: target (20), selector (4), max value per use (32).
        _need(data, o, 56, 0x200414);
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            o = limitEnd(data, limitEnd(data, o + 56));
            uint256 count = read(data, o, 1);
            ++o;
            for (uint256 c; c < count; ++c) {
                o = limitEnd(data, constraintBodyEnd(data, o));
            }
            return o;
        }
    }

    /// @return end The offset of the limit of the constraint at `o` (after its condition's
    ///         operand), or a revert at the first field out of form.
    function constraintBodyEnd(bytes calldata data, uint256 o) internal pure returns (uint256 end) {
        bytes4 malformed = ISessionKeyValidator.MalformedEncoding.selector;
        // Assembly: condition (1), word index (4), bits (2), then a reference (32) or a OneOf's
        // count (1) and values (32 each), read with one bound check per structure and no
        // internal calls. Every refusal names the first field out of form, as the Rust reader
        // does. Covered by tests/packed_encoding.rs (every cut and mutation against Rust).
        assembly ("memory-safe") {
            let base := data.offset
            let len := data.length
            let bad := 0
            let failAt := o
            let condition := 0
            if lt(o, len) { condition := shr(248, calldataload(add(base, o))) }
            switch or(iszero(lt(o, len)), gt(condition, COND_ONE_OF))
            case 1 { bad := 1 }
            default {
                switch gt(add(o, 7), len)
                case 1 {
                    bad := 1
                    failAt := add(o, 1)
                    if iszero(gt(add(o, 5), len)) { failAt := add(o, 5) }
                }
                default {
                    failAt := add(o, 7)
                    switch eq(condition, COND_ONE_OF)
                    case 0 {
                        end := add(o, 39)
                        bad := gt(end, len)
                    }
                    default {
                        switch lt(failAt, len)
                        case 0 { bad := 1 }
                        default {
                            let values := add(o, 8)
                            end := add(values, shl(5, shr(248, calldataload(add(base, failAt)))))
                            if gt(end, len) {
                                bad := 1
                                // The first value cut short starts a multiple of 32 bytes in.
                                failAt := add(values, shl(5, shr(5, sub(len, values))))
                            }
                        }
                    }
                }
            }
            if bad {
                mstore(0, malformed)
                mstore(4, failAt)
                revert(0, 0x24)
            }
        }
    }

    /// @dev Reverts with MalformedEncoding at the first of the fixed-width fields starting at `o`
    ///      (their widths, one per byte of `widths`, the first in the lowest byte; `size` their
    ///      sum) that does not lie inside `data`. One comparison when they all do.
    function _need(bytes calldata data, uint256 o, uint256 size, uint256 widths) private pure {
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            if (o + size <= data.length) return;
            while (o + (widths & 0xff) <= data.length) {
                o += widths & 0xff;
                widths >>= 8;
            }
            revert ISessionKeyValidator.MalformedEncoding(o);
        }
    }

    /// @return The offset of the limit of the constraint at `o` (after its condition's operand),
    ///         in a leaf the checked walk has already read.
    function constraintLimitAt(bytes calldata data, uint256 o) internal pure returns (uint256) {
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            if (at(data, o, 1) != COND_ONE_OF) return o + 39;
            return o + 8 + 32 * at(data, o + 7, 1);
        }
    }

    /// @return The offset after the transfer policy leaf at `o`: target (20), max value per use
    ///         (32), value budget.
    function transferLeafEnd(bytes calldata data, uint256 o) internal pure returns (uint256) {
        _need(data, o, 52, 0x2014);
        // Offsets stay below the bytes' length plus a few constants: no overflow.
        unchecked {
            return limitEnd(data, o + 52);
        }
    }

    /// @return The offset after the leaf at `o`, a call leaf below position `callCount`.
    function leafEnd(bytes calldata data, uint256 o, uint256 position, uint256 callCount)
        internal
        pure
        returns (uint256)
    {
        return position < callCount ? callLeafEnd(data, o) : transferLeafEnd(data, o);
    }

    /// @notice Every leaf of the spec whose header is `h`, in tree order.
    /// @return offsets Where each leaf starts.
    /// @return root The policy tree's root.
    /// @return end The offset after the last leaf.
    function readLeaves(bytes calldata data, SpecHeader memory h)
        internal
        pure
        returns (uint256[] memory offsets, bytes32 root, uint256 end)
    {
        uint256 n = h.callCount + h.transferCount;
        // A count the bytes cannot hold must fail where a leaf is cut short, as the Rust reader
        // does, not run out of gas allocating: allocate no more entries than the bytes after the
        // header could hold (a leaf is at least MIN_LEAF bytes), plus the one that fails.
        uint256 capacity = n;
        if (capacity > data.length / MIN_LEAF + 1) capacity = data.length / MIN_LEAF + 1;
        offsets = new uint256[](capacity);
        bytes32[] memory hashes = new bytes32[](capacity);
        end = h.end;
        for (uint256 i; i < n; ++i) {
            offsets[i] = end;
            uint256 next = leafEnd(data, end, i, h.callCount);
            hashes[i] = leafHash(data, i, end, next);
            end = next;
        }
        root = treeRoot(hashes);
    }

    /// @notice A whole packed spec with nothing after it.
    function readSpec(bytes calldata data)
        internal
        pure
        returns (SpecHeader memory h, uint256[] memory offsets, bytes32 sessionHash)
    {
        readHeader(data, 0, h);
        bytes32 root;
        uint256 end;
        (offsets, root, end) = readLeaves(data, h);
        if (end != data.length) revert ISessionKeyValidator.MalformedEncoding(end);
        sessionHash = hashSession(data, h, root);
    }

    /// @return h keccak256(0x00 ‖ uint16 position ‖ data[start:end]).
    function leafHash(bytes calldata data, uint256 position, uint256 start, uint256 end)
        internal
        pure
        returns (bytes32 h)
    {
        // Assembly: hash the prefix and the calldata bytes in the free memory past the pointer
        // without allocating (the bytes are temporary). Covered by every session test.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(232, and(position, 0xffff)))
            calldatacopy(add(m, 3), add(data.offset, start), sub(end, start))
            h := keccak256(m, add(3, sub(end, start)))
        }
    }

    /// @return h keccak256(0x01 ‖ left ‖ right).
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        // Assembly: as in leafHash, a 65-byte temporary past the free memory pointer.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 1)
            mstore(add(m, 1), left)
            mstore(add(m, 33), right)
            h := keccak256(m, 65)
        }
    }

    /// @return s keccak256(0x53 ‖ header bytes ‖ root), the session's identity.
    function hashSession(bytes calldata data, SpecHeader memory h, bytes32 root) internal pure returns (bytes32) {
        return hashSessionAt(data, h.start, h.end, root);
    }

    /// @return s keccak256(0x53 ‖ data[start:end] ‖ root), for the header at data[start:end].
    function hashSessionAt(bytes calldata data, uint256 start, uint256 end, bytes32 root)
        internal
        pure
        returns (bytes32 s)
    {
        uint256 length = end - start;
        // Assembly: as in leafHash.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore8(m, 0x53)
            calldatacopy(add(m, 1), add(data.offset, start), length)
            mstore(add(add(m, 1), length), root)
            s := keccak256(m, add(length, 33))
        }
    }

    /// @return d The depth of a tree of `n` leaves: log2 of the next power of two.
    function depth(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) ++d;
    }

    /// @return The root of `hashes` padded with zero leaves to a power of two (0 for none): an
    ///         all-padding subtree hashes like any other, so the result is the full tree's root.
    ///         Overwrites `hashes`.
    function treeRoot(bytes32[] memory hashes) internal pure returns (bytes32) {
        uint256 width = hashes.length;
        if (width == 0) return bytes32(0);
        // `empty` is the root of an all-padding subtree of the current level's height.
        bytes32 empty;
        while (width > 1) {
            uint256 half = (width + 1) / 2;
            for (uint256 i; i < half; ++i) {
                bytes32 right = 2 * i + 1 < width ? hashes[2 * i + 1] : empty;
                hashes[i] = nodeHash(hashes[2 * i], right);
            }
            empty = nodeHash(empty, empty);
            width = half;
        }
        return hashes[0];
    }

    /// @notice The indexed multiproof walk (docs/compact-signatures.md): the root proved by the
    ///         (position, hash) pairs and the proof hashes in data[o:end], consumed exactly.
    ///         Overwrites `positions` and `hashes`.
    function multiproofRoot(
        uint256 n,
        uint256[] memory positions,
        bytes32[] memory hashes,
        bytes calldata data,
        uint256 o,
        uint256 end
    ) internal pure returns (bytes32) {
        uint256 k = positions.length;
        if (k == 0) {
            if (o + 32 > end) revert ISessionKeyValidator.MalformedEncoding(end);
            if (o + 32 != end) revert ISessionKeyValidator.MalformedEncoding(o + 32);
            return bytes32(data[o:end]);
        }
        uint256 levels = depth(n);
        bytes4 malformed = ISessionKeyValidator.MalformedEncoding.selector;
        // Assembly: the walk runs once per tree level for every carried leaf; in Solidity each
        // step paid bounds checks on both arrays and on the calldata slice (~1.2k gas a level).
        // Positions are strictly increasing and below n (checked by readSignature), so every
        // index stays inside the arrays; a proof hash is read only after `o + 32 <= end` is
        // checked. The 65-byte node preimage is built past the free memory pointer without
        // allocating. Covered by tests/packed_encoding.rs and tests/compact_signatures.rs.
        assembly ("memory-safe") {
            let pos := add(positions, 0x20)
            let hs := add(hashes, 0x20)
            let scratch := mload(0x40)
            for {} levels { levels := sub(levels, 1) } {
                let w := 0
                let j := 0
                for {} lt(j, k) {} {
                    let p := mload(add(pos, shl(5, j)))
                    let left := mload(add(hs, shl(5, j)))
                    let right := 0
                    let next := add(j, 1)
                    let paired := 0
                    if and(iszero(and(p, 1)), lt(next, k)) {
                        paired := eq(mload(add(pos, shl(5, next))), add(p, 1))
                    }
                    switch paired
                    case 1 {
                        right := mload(add(hs, shl(5, next)))
                        j := add(j, 2)
                    }
                    default {
                        if gt(add(o, 32), end) {
                            mstore(0, malformed)
                            mstore(4, end)
                            revert(0, 0x24)
                        }
                        let sibling := calldataload(add(data.offset, o))
                        o := add(o, 32)
                        switch and(p, 1)
                        case 0 { right := sibling }
                        default {
                            right := left
                            left := sibling
                        }
                        j := next
                    }
                    mstore8(scratch, 1)
                    mstore(add(scratch, 1), left)
                    mstore(add(scratch, 33), right)
                    mstore(add(pos, shl(5, w)), shr(1, p))
                    mstore(add(hs, shl(5, w)), keccak256(scratch, 65))
                    w := add(w, 1)
                }
                k := w
            }
        }
        if (o != end) revert ISessionKeyValidator.MalformedEncoding(o);
        return hashes[0];
    }

    /// @notice The multiproof walk for one leaf (the common op): the root of the leaf `node` at
    ///         `position` in a tree of `n` leaves, its siblings in data[o:end], one per level,
    ///         consumed exactly. Refuses where multiproofRoot refuses: a sibling missing at `end`,
    ///         a hash left over at its own offset.
    function pathRoot(uint256 n, uint256 position, bytes32 node, bytes calldata data, uint256 o, uint256 end)
        internal
        pure
        returns (bytes32 root)
    {
        uint256 proofEnd;
        // Offsets stay below the bytes' length plus a few constants, levels below 17: no overflow.
        unchecked {
            proofEnd = o + 32 * depth(n);
        }
        if (proofEnd > end) revert ISessionKeyValidator.MalformedEncoding(end);
        if (proofEnd != end) revert ISessionKeyValidator.MalformedEncoding(proofEnd);
        // Assembly: one 65-byte node preimage past the free memory pointer per level, without
        // allocating; the siblings lie inside data (checked above). Covered by
        // tests/packed_encoding.rs (every carried subset of specs of up to 100 policies) and
        // tests/compact_signatures.rs.
        assembly ("memory-safe") {
            let scratch := mload(0x40)
            mstore8(scratch, 1)
            for {} lt(o, proofEnd) { o := add(o, 32) } {
                let sibling := calldataload(add(data.offset, o))
                switch and(position, 1)
                case 0 {
                    mstore(add(scratch, 1), node)
                    mstore(add(scratch, 33), sibling)
                }
                default {
                    mstore(add(scratch, 1), sibling)
                    mstore(add(scratch, 33), node)
                }
                node := keccak256(scratch, 65)
                position := shr(1, position)
            }
            root := node
        }
    }

    /// @notice Reads `userOp.signature` (docs/compact-signatures.md): mode, hint, header, then in
    ///         use mode the carried leaves and their multiproof, in enable mode every leaf, the
    ///         chains and the owner's signature; the session-key signature is the last 65 bytes.
    ///         Computes the session hash. Every structural refusal happens here.
    function readSignature(bytes calldata sig) internal pure returns (SignatureView memory v) {
        if (sig.length == 0) revert ISessionKeyValidator.MalformedEncoding(0);
        v.mode = uint8(sig[0]);
        if (v.mode > MODE_ENABLE) revert ISessionKeyValidator.UnknownSignatureMode(v.mode);
        v.timeHint = uint48(read(sig, 1, 6));
        SpecHeader memory h = v.header;
        readHeader(sig, 7, h);
        bytes32 root;
        uint256 o;
        if (v.mode == MODE_ENABLE) {
            (v.offsets, root, o) = readLeaves(sig, h);
            v.positions = new uint256[](v.offsets.length);
            for (uint256 i; i < v.positions.length; ++i) {
                v.positions[i] = i;
            }
            v.specEnd = o;
            v.chainCount = read(sig, o, 1);
            v.chainsAt = ++o;
            for (uint256 i; i < v.chainCount; ++i) {
                read(sig, o, 8);
                read(sig, o + 8, 8);
                o += 16;
            }
            uint256 ownerLength = read(sig, o, 2);
            v.ownerSignatureAt = o + 2;
            o += 2 + ownerLength;
            if (o > sig.length) revert ISessionKeyValidator.MalformedEncoding(v.ownerSignatureAt);
            v.ownerSignatureEnd = o;
            if (o + 65 > sig.length) revert ISessionKeyValidator.MalformedEncoding(o);
            if (o + 65 != sig.length) revert ISessionKeyValidator.MalformedEncoding(o + 65);
        } else {
            uint256 n = h.callCount + h.transferCount;
            o = h.end;
            uint256 k = read(sig, o, 2);
            o += 2;
            // As in readLeaves: a count the bytes cannot hold fails at the position cut short.
            uint256 capacity = k;
            if (capacity > sig.length / 2 + 1) capacity = sig.length / 2 + 1;
            v.positions = new uint256[](capacity);
            for (uint256 j; j < k; ++j) {
                uint256 position = read(sig, o, 2);
                if (position >= n || (j != 0 && position <= v.positions[j - 1])) revert ISessionKeyValidator.MalformedEncoding(o);
                v.positions[j] = position;
                o += 2;
            }
            v.offsets = new uint256[](k);
            if (k == 1) {
                // One carried leaf (an op whose calls use one policy): its path to the root needs
                // no multiproof bookkeeping.
                uint256 position = v.positions[0];
                uint256 next = leafEnd(sig, o, position, h.callCount);
                v.offsets[0] = o;
                bytes32 leaf = leafHash(sig, position, o, next);
                o = next;
                if (sig.length < o + 65 || (sig.length - o - 65) % 32 != 0) {
                    revert ISessionKeyValidator.MalformedEncoding(o);
                }
                root = pathRoot(n, position, leaf, sig, o, sig.length - 65);
                v.sessionHash = hashSession(sig, h, root);
                return v;
            }
            uint256[] memory walk = new uint256[](k);
            bytes32[] memory hashes = new bytes32[](k);
            for (uint256 j; j < k; ++j) {
                uint256 position = v.positions[j];
                uint256 next = leafEnd(sig, o, position, h.callCount);
                v.offsets[j] = o;
                walk[j] = position;
                hashes[j] = leafHash(sig, position, o, next);
                o = next;
            }
            if (sig.length < o + 65 || (sig.length - o - 65) % 32 != 0) revert ISessionKeyValidator.MalformedEncoding(o);
            root = multiproofRoot(n, walk, hashes, sig, o, sig.length - 65);
        }
        v.sessionHash = hashSession(sig, h, root);
    }
}
