// Package lease implements leases on a compare-and-set store (DynamoDB in
// production) that stay safe when clocks disagree, after AWS's DynamoDB
// lock client and Kleppmann's fencing argument.
//
// A lease record holds the holder's identity, a record version number (RVN)
// that changes at every renewal, the lease duration the holder promises to
// renew within, and an epoch that increases at every change of holder.
//
// Rules, and why they are safe:
//  1. Renewing rewrites the RVN, conditional on the RVN the holder last
//     wrote. No wall-clock time is stored or compared across hosts.
//  2. A contender reads the record, waits one full lease duration on its
//     own monotonic clock, and takes over only with a write conditional on
//     the RVN it read, incrementing the epoch. If the holder renewed in
//     between, the RVN changed and the takeover fails.
//  3. The holder considers the lease valid only until start+duration-margin,
//     where start is its monotonic time just BEFORE it sent the renewal
//     that succeeded. The contender's wait starts after it read the RVN
//     that renewal wrote, which is after that start; so, as long as the two
//     clocks' rates differ by less than margin per duration, the holder
//     stops acting (Valid reports false) before anyone can take over. A
//     paused holder (SIGSTOP, GC, VM freeze) finds its lease invalid when
//     it wakes, because its monotonic clock kept running.
//  4. The epoch is the fencing token: writes made on behalf of a lease are
//     conditional on the epoch still being current (metastore's fenced
//     writes), so a holder that lost its lease cannot write even if it
//     has not noticed.
//
// The state machine takes its clock and store as interfaces, so unit tests
// drive it deterministically; package metastore stores leases in
// DynamoDB and tests them against a real DynamoDB API (moto_server).
package lease
