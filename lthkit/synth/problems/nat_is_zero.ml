type nat =
  | O
  | S of nat

type bool =
  | True
  | False

let nat_is_zero : nat -> bool |>
  { 0 => True | 1 => False | 3 => False } = ?
