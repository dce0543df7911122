(* Products: the second components of a list of pairs; constructors carry one tuple. *)
type nat =
  | Z
  | S of nat

type list =
  | Nil
  | Cons of nat * list

type plist =
  | PNil
  | PCons of (nat * nat) * plist

let rec list_seconds : plist -> list |>
  /\(PNil -> [],
     PCons ((0, 2), PNil) -> [2],
     PCons ((1, 0), PCons ((0, 2), PNil)) -> [0; 2]) = ?
