(* Polymorphism: apply a function to the keys of an association list.  The keys and values
   are abstract values of type variables (k1, v1...), and the function is given by one example,
   so the program can only move them around and call it. *)
type 'a list =
  | Nil
  | Cons of 'a * 'a list

let rec list_map_keys : ('k -> 'j) -> ('k * 'v) list -> ('j * 'v) list |>
  (k1 -> j1) -> /\([] -> [],
                   [(k1, v1)] -> [(j1, v1)],
                   [(k1, v2); (k1, v1)] -> [(j1, v2); (j1, v1)]) = ?
