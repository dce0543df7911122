(* Twice a number: every step down on the input is two steps up on the output. *)
type nat =
  | O
  | S of nat

type bool =
  | True
  | False

let nat_double : nat -> nat |>
  { 0 => 0
  | 1 => 2
  | 2 => 4
  | 3 => 6 } = ?
